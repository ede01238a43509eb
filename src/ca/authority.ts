import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import { WcaError, isWcaError, publicMessageOf } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { UpstreamAuthority } from '../upstream/types.js';
import { parseSpiffeIdIn, parseTrustDomain } from '../spiffe/id.js';
import { parseDnsNames } from '../spiffe/dns.js';
import { csrToDer } from '../x509/csr.js';
import { LINEAGE_ID_LENGTH } from '../x509/leaf.js';
import { SignerPool } from './signer-pool.js';
import { RemoteLeafSigner } from './remote-signer.js';
import { memoryKeyManager } from '../keys/memory.js';
import type { KeyManager } from '../keys/types.js';
import { mintIntermediate, type CaSlot } from './intermediate.js';
import { validateRoots } from '../upstream/validate.js';
import type { SignJob } from './sign-leaf.js';
import { keyTypes, type KeyType } from '../x509/key-types.js';
import type { AuthorityEvent, CsrLeafRequest, IssuedCert, IssuedSvid, LeafIssuer, LeafRequest, ServerKeyLeafRequest, TrustBundle } from './types.js';
import type { SlotName } from './slots.js';
import { AuthorityStates, type AuthorityInfo } from './authority-states.js';
import { isoFormatter, noAudit, type Auditor } from '../audit/log.js';

export interface AuthorityOptions {
  trustDomain: string;
  upstream: UpstreamAuthority;
  /** Where intermediate keys live; in this process (memory) by default. */
  keyManager?: KeyManager;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Intermediate key type. */
  keyType: KeyType;
  intermediateTtlSeconds: number;
  defaultLeafTtlSeconds: number;
  maxLeafTtlSeconds: number;
  backdateSeconds: number;
  /** Signer threads; 0 = one per core. */
  signers: number;
  /** Certificate issues queued or signing before callers get ERR_CA_OVERLOADED (ca.maxQueuedIssuance). */
  maxQueuedIssuance?: number;
  /** A new certificate is refused (ERR_CA_OVERLOADED) while interactive ones already wait this long for a signer (ca.maxIssuanceWait). */
  maxIssuanceWaitMs?: number;
  /** Issuances, refusals, authority transitions and bundle changes are recorded here. */
  audit?: Auditor;
}

/**
 * The in-memory CA. Holds its intermediates ("authorities") by ID, each in a state
 * of authority-states.ts (prepared, active, old, tainted, revoked); issues leaves
 * from the active one; never exposes or serialises a CA key.
 */
export class Authority implements LeafIssuer {
  readonly trustDomain: string;
  private readonly pool: SignerPool;
  /** Every authority not yet revoked or retired, by ID; states says what each may do. */
  private readonly cas = new Map<string, CaSlot>();
  private readonly states: AuthorityStates;
  private readonly audit: Auditor;
  private readonly isoNotAfter = isoFormatter();
  private readonly remote: RemoteLeafSigner;
  private readonly keyManager: KeyManager;
  private readonly listeners = new Set<(e: AuthorityEvent) => void>();
  /** Metric children bound once: label lookups per certificate are measurable at 10k/s. */
  private readonly pathMetrics: Record<'server_key' | 'csr', { issued: { inc(): void }; latency: { observe(v: number): void } }>;
  /** SPIFFE IDs already validated (pure function of the string); renewals repeat the same few. */
  private readonly validIds = new Map<string, string>();
  private activeSlot: CaSlot | undefined;
  /** Signing jobs queued or running per authority, and authorities to unload once theirs finish. */
  private readonly inFlight = new Map<string, number>();
  private readonly unloading = new Set<string>();
  private currentBundle: TrustBundle;
  /** Roots the upstream announced ahead of use (root rotation): trusted before any leaf chains to them. */
  private announcedRoots: string[] = [];
  /** The authority change in progress (prepare, emergency rotation), if any; see exclusive(). */
  private changeInFlight: string | undefined;
  /** Set inside the change in progress, so its own steps (prepare, activate, taint) pass. */
  private readonly insideChange = new AsyncLocalStorage<true>();

  constructor(private readonly options: AuthorityOptions) {
    this.trustDomain = parseTrustDomain(options.trustDomain);
    this.keyManager = options.keyManager ?? memoryKeyManager();
    const onShed = (reason: string) => options.metrics.shed.inc({ limit: reason });
    this.pool = new SignerPool({
      size: options.signers,
      logger: options.logger,
      onQueueDepth: (d) => options.metrics.signQueueDepth.set(d),
      maxQueued: options.maxQueuedIssuance,
      ...(options.maxIssuanceWaitMs === undefined ? {} : { maxWaitMs: options.maxIssuanceWaitMs }),
      onShed,
    });
    this.remote = new RemoteLeafSigner({ maxQueued: options.maxQueuedIssuance, onShed });
    this.currentBundle = { trustDomain: this.trustDomain, pem: '', version: '' };
    this.audit = options.audit ?? noAudit;
    this.states = new AuthorityStates((t) => {
      options.logger.info({ caId: t.id, from: t.from, to: t.to, reason: t.reason }, 'authority transition');
      this.audit.record({ type: 'transition', authorityId: t.id, from: t.from ?? null, to: t.to, reason: t.reason });
    });
    const bind = (path: 'server_key' | 'csr') => ({
      issued: options.metrics.certsIssued.labels(path),
      latency: options.metrics.issueLatency.labels(path),
    });
    this.pathMetrics = { server_key: bind('server_key'), csr: bind('csr') };
  }

  /** Mints the first intermediate and makes it active. */
  async start(signal?: AbortSignal): Promise<void> {
    const slot = await this.mint(signal);
    this.states.start(slot, this.options.clock.now(), 'first intermediate');
    this.install(slot);
  }

  /** Mints an intermediate and holds it as "prepared" (signers load it, so activation has no gap). */
  prepareNext(signal?: AbortSignal, reason = 'scheduled rotation'): Promise<CaSlot> {
    return this.exclusive('prepare', async () => {
      const waiting = this.states.inState('prepared')[0];
      // Refuse before minting: a second prepared authority would cost an upstream call for nothing.
      if (waiting) this.states.prepare(waiting, this.options.clock.now(), reason);
      const slot = await this.mint(signal);
      this.states.prepare(slot, this.options.clock.now(), reason);
      this.install(slot);
      return slot;
    });
  }

  /**
   * Runs `change` as the one authority change in progress. A change spans awaits (the
   * upstream mint, an emergency's wait for the new root), and two interleaved ones
   * each act on a state the other is changing: a second one (prepare, activate,
   * taint, revoke, from the operator, the fleet or the scheduler) is refused with
   * `in-progress` before it touches anything, the upstream included. The steps
   * `change` itself takes pass.
   */
  async exclusive<T>(what: string, change: () => Promise<T>): Promise<T> {
    if (this.insideChange.getStore()) return change();
    this.mayChange(what);
    this.changeInFlight = what;
    try {
      return await this.insideChange.run(true, change);
    } finally {
      this.changeInFlight = undefined;
    }
  }

  private mayChange(what: string): void {
    const busy = this.changeInFlight;
    if (busy === undefined || this.insideChange.getStore()) return;
    throw new WcaError('ERR_AUTHORITY_TRANSITION', `cannot ${what} now: ${busy} is in progress; try again once it has finished`, {
      details: { reason: 'in-progress' },
    });
  }

  /** Activates the prepared authority (scheduled rotation). */
  activateNext(reason: string): void {
    this.mayChange('activate');
    const next = this.states.inState('prepared')[0];
    if (!next) throw new WcaError('ERR_CA_NOT_READY', 'no prepared intermediate to activate');
    this.activate(next.id, reason);
  }

  /** prepared → active, active → old; subscribers under the previous one are re-issued. */
  activate(id: string, reason: string): void {
    this.mayChange('activate');
    const previous = this.states.activate(id, this.options.clock.now(), reason);
    this.options.logger.info({ caId: id, keyId: this.cas.get(id)?.keyId, previous, reason }, 'activated intermediate');
    if (previous) this.unloadSigner(previous);
    this.publishSlots();
    if (previous) this.emit({ type: 'reissue', caIds: [previous], reason });
  }

  /** old → tainted: every subscriber holding a leaf under it is re-issued now. */
  taint(id: string, reason: string): void {
    this.mayChange('taint');
    this.states.taint(id, this.options.clock.now(), reason);
    this.emit({ type: 'reissue', caIds: [id], reason: `tainted: ${reason}` });
  }

  /**
   * tainted (or, forced, old/prepared) → revoked: its key is dropped from memory and
   * its certificate from the intermediates peers verify with; its roots leave the
   * bundle unless another authority still chains to them.
   */
  revoke(id: string, options: { reason: string; force?: boolean; holders?: number }): CaSlot {
    this.mayChange('revoke');
    this.states.revoke(id, this.options.clock.now(), options);
    const slot = this.cas.get(id)!;
    this.cas.delete(id);
    this.unloadSigner(id);
    this.publishSlots();
    return slot;
  }

  /** Drops expired authorities (their leaves have expired too). */
  retireOld(): void {
    for (const id of this.states.retireExpired(this.options.clock.now())) this.cas.delete(id);
    this.publishSlots();
  }

  /** Roots the active or prepared authority chains to (root rotation gating). */
  rootsOf(state: 'active' | 'prepared'): string[] {
    const a = this.states.inState(state)[0];
    return (a && this.cas.get(a.id)?.rootsPem) ?? [];
  }

  /** Every authority and its state, newest first (admin status). */
  authorities(): AuthorityInfo[] {
    return this.states.list();
  }

  /**
   * The rotation scheduler's view: active, prepared ("next"), and the soonest-expiring
   * of the authorities kept only for their leaves ("old": old, tainted or revoked).
   */
  slotLifetimes(): Partial<Record<SlotName, { id: string; notBeforeMs: number; notAfterMs: number }>> {
    const out: Partial<Record<SlotName, { id: string; notBeforeMs: number; notAfterMs: number }>> = {};
    const view = (a: AuthorityInfo) => ({ id: a.id, notBeforeMs: a.notBeforeMs, notAfterMs: a.notAfterMs });
    for (const a of this.states.list()) {
      if (a.state === 'active') out.active = view(a);
      else if (a.state === 'prepared') out.next = view(a);
      else if (!out.old || a.notAfterMs < out.old.notAfterMs) out.old = view(a);
    }
    return out;
  }

  /**
   * Our intermediates in every slot (and the upstream chain above them): peers that
   * present only a leaf are verified through these, including leaves of the old slot
   * during a rotation.
   */
  intermediatesPem(): string[] {
    return this.chainsIn(['prepared', 'active', 'old', 'tainted']);
  }

  renewalIntermediatesPem(): string[] {
    return this.chainsIn(['prepared', 'active', 'old']);
  }

  taintedIntermediatesPem(): string[] {
    return this.chainsIn(['tainted']);
  }

  /** Newest first, so a peer that keeps only the first few keeps the one signing now. */
  private chainsIn(states: readonly AuthorityInfo['state'][]): string[] {
    return this.states.list().flatMap((a) => {
      const slot = states.includes(a.state) ? this.cas.get(a.id) : undefined;
      return slot ? [slot.signing.chainPemSuffix] : [];
    });
  }

  /**
   * The upstream's current roots, as polled. New roots join the bundle at once, so
   * peers trust them before an intermediate chained to one is ever activated.
   */
  setAnnouncedRoots(rootsPem: readonly string[]): void {
    this.announcedRoots = validateRoots(rootsPem);
    this.refreshBundle();
  }

  bundle(): TrustBundle {
    return this.currentBundle;
  }

  subscribe(listener: (event: AuthorityEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async issue(request: ServerKeyLeafRequest): Promise<IssuedSvid> {
    const keyType = request.keyType ?? 'ec-p256';
    if (!keyTypes.includes(keyType)) {
      throw this.rejected(new WcaError('ERR_KEY_TYPE_UNSUPPORTED', `unknown key type "${String(keyType).slice(0, 32)}"; use one of ${keyTypes.join(', ')}`), request);
    }
    const result = await this.sign(request, (base) => ({ ...base, kind: 'key', keyType }), 'server_key');
    return { ...result.cert, privateKeyPem: result.privateKeyPem! };
  }

  async issueForCsr(request: CsrLeafRequest): Promise<IssuedCert> {
    let csrDer: Buffer;
    try {
      csrDer = csrToDer(request.csr);
    } catch (err) {
      throw this.rejected(err, request);
    }
    return (await this.sign(request, (base) => ({ ...base, kind: 'csr', csrDer }), 'csr')).cert;
  }

  /** Stops the signer threads (their copies of the CA keys go with them), then lets go of every CA key object here. */
  async close(): Promise<void> {
    this.listeners.clear();
    this.remote.close();
    await this.pool.close();
    this.cas.clear();
    this.activeSlot = undefined;
  }

  private async sign(
    request: LeafRequest,
    makeJob: (base: Omit<SignJob, 'kind' | 'keyType' | 'csrDer'>) => SignJob,
    path: 'server_key' | 'csr',
  ): Promise<{ cert: IssuedCert; privateKeyPem?: string }> {
    const started = performance.now();
    let spiffeId: string;
    let dnsNames: string[];
    let ttl: number;
    try {
      spiffeId = this.validSpiffeId(request.spiffeId);
      dnsNames = parseDnsNames(request.dnsNames);
      ttl = this.validTtl(request.ttlSeconds);
    } catch (err) {
      throw this.rejected(err, request);
    }
    const ca = this.activeSlot;
    if (!ca) throw this.rejected(new WcaError('ERR_CA_NOT_READY', 'no active intermediate yet; the CA is starting'), request);
    const now = this.options.clock.now();
    // A leaf never outlives its intermediate, and never starts before it.
    const notAfterMs = Math.min(now + ttl * 1000, ca.notAfterMs);
    const notBeforeMs = Math.max(now - this.options.backdateSeconds * 1000, ca.notBeforeMs);
    if (notAfterMs <= now) throw this.rejected(new WcaError('ERR_CA_NOT_READY', 'the active intermediate has expired'), request);
    this.inFlight.set(ca.id, (this.inFlight.get(ca.id) ?? 0) + 1);
    try {
      const lineage = request.lineageStartMs;
      const lineageStartMs = typeof lineage === 'number' && Number.isFinite(lineage) && lineage >= 0 && lineage < now ? lineage : now;
      const id = request.lineageId;
      const lineageId = id instanceof Uint8Array && id.length === LINEAGE_ID_LENGTH ? Uint8Array.from(id) : crypto.randomBytes(LINEAGE_ID_LENGTH);
      const job = makeJob({ spiffeId, dnsNames, notBeforeMs, notAfterMs, lineageStartMs, lineageId });
      const r = await ('remote' in ca.signing ? this.remote.sign(ca.signing, job) : this.pool.sign(ca.id, job, request.priority)).finally(() => this.signed(ca.id));
      const m = this.pathMetrics[path];
      m.issued.inc();
      m.latency.observe((performance.now() - started) / 1000);
      const notAfter = new Date(Math.floor(notAfterMs / 1000) * 1000);
      const subject = request.subject;
      this.audit.record({
        type: 'issuance',
        serial: r.serialHex,
        spiffeId,
        notAfter: this.isoNotAfter(notAfter.getTime()),
        authorityId: ca.id,
        ...(subject ? { authenticator: subject.authenticator, nodeId: subject.nodeId } : {}),
      });
      return {
        cert: {
          spiffeId,
          chainPem: r.leafPem + ca.signing.chainPemSuffix,
          serial: r.serialHex,
          notBefore: new Date(Math.floor(notBeforeMs / 1000) * 1000),
          notAfter,
          caId: ca.id,
        },
        privateKeyPem: r.privateKeyPem,
      };
    } catch (err) {
      throw this.rejected(err, request);
    }
  }

  private validSpiffeId(input: string): string {
    const known = this.validIds.get(input);
    if (known !== undefined) return known;
    const id = parseSpiffeIdIn(input, this.trustDomain);
    if (id.path === '') {
      // X509-SVID spec: a leaf's SPIFFE ID names a workload; the bare trust domain ID never does.
      throw new WcaError('ERR_SPIFFE_ID_INVALID', `SPIFFE ID "${id.uri}" is the trust domain's own ID; a workload SVID needs a path`, {
        details: { reason: 'trust-domain-id' },
      });
    }
    const uri = id.uri;
    if (this.validIds.size >= 10_000) this.validIds.clear();
    this.validIds.set(input, uri);
    return uri;
  }

  private validTtl(ttl: number | undefined): number {
    if (ttl === undefined) return Math.min(this.options.defaultLeafTtlSeconds, this.options.maxLeafTtlSeconds);
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
      throw new WcaError('ERR_TTL_INVALID', `TTL must be a positive number of seconds, got ${String(ttl).slice(0, 32)}`);
    }
    if (ttl > this.options.maxLeafTtlSeconds) {
      throw new WcaError('ERR_TTL_INVALID', `TTL ${ttl}s is above the maximum of ${this.options.maxLeafTtlSeconds}s`);
    }
    return ttl;
  }

  private rejected(err: unknown, request: LeafRequest): unknown {
    const code = isWcaError(err) ? err.code : 'ERR_INTERNAL';
    this.options.metrics.issueErrors.inc({ code });
    this.audit.record({
      type: 'denial',
      who: request.subject?.nodeId?.slice(0, 256) ?? auditableId(request.spiffeId),
      what: `issue ${auditableId(request.spiffeId)}`,
      why: publicMessageOf(err),
      code,
    });
    return err;
  }

  private async mint(signal?: AbortSignal): Promise<CaSlot> {
    const o = this.options;
    let slot: CaSlot;
    try {
      slot = await mintIntermediate({
        upstream: o.upstream,
        keyManager: this.keyManager,
        trustDomain: this.trustDomain,
        keyType: o.keyType,
        ttlSeconds: o.intermediateTtlSeconds,
        nowMs: o.clock.now(),
        signal,
      });
    } catch (err) {
      o.metrics.upstreamRequests.inc({ plugin: o.upstream.name, outcome: isWcaError(err, 'ERR_UPSTREAM_TIMEOUT') ? 'timeout' : 'failed' });
      throw err;
    }
    o.metrics.upstreamRequests.inc({ plugin: o.upstream.name, outcome: 'minted' });
    if (slot.truncated) {
      o.metrics.intermediateTruncated.inc();
      o.logger.warn(
        { caId: slot.id, notAfter: new Date(slot.notAfterMs).toISOString(), requestedTtlSeconds: o.intermediateTtlSeconds },
        'upstream issued a shorter intermediate than requested; leaf lifetimes are capped by it',
      );
    }
    if (slot.warnings.length > 0) {
      o.metrics.upstreamWarnings.inc({ plugin: o.upstream.name }, slot.warnings.length);
      o.logger.warn({ warnings: slot.warnings, plugin: o.upstream.name }, 'upstream returned warnings');
    }
    return slot;
  }

  /**
   * An authority that stops signing leaves the signer threads (and its key their
   * memory) once the jobs already queued for it are done: a leaf requested just
   * before an activation is still signed, never failed ("no gap").
   */
  private unloadSigner(id: string): void {
    if (this.inFlight.has(id)) this.unloading.add(id);
    else this.pool.removeCa(id);
  }

  private signed(id: string): void {
    const left = this.inFlight.get(id)! - 1;
    if (left > 0) return void this.inFlight.set(id, left);
    this.inFlight.delete(id);
    if (this.unloading.delete(id)) this.pool.removeCa(id);
  }

  /** Signers hold what may sign (active, and prepared so activation has no gap). */
  private install(slot: CaSlot): void {
    this.cas.set(slot.id, slot);
    if (!('remote' in slot.signing)) this.pool.addCa(slot.signing);
    this.publishSlots();
  }

  /** After any transition: the active slot for signing, slot metrics, and the bundle. */
  private publishSlots(): void {
    const slots = this.slotLifetimes();
    this.activeSlot = slots.active && this.cas.get(slots.active.id);
    for (const name of ['active', 'next', 'old'] as const) {
      const s = slots[name];
      if (s) this.options.metrics.intermediateNotAfter.set({ slot: name }, s.notAfterMs / 1000);
      else this.options.metrics.intermediateNotAfter.remove(name);
    }
    this.refreshBundle();
  }

  /** The bundle holds the roots of every authority not revoked, so a root rotation is trusted before it is used. */
  private refreshBundle(): void {
    const roots = new Set<string>();
    for (const s of this.cas.values()) for (const r of s.rootsPem) roots.add(r.trim() + '\n');
    for (const r of this.announcedRoots) roots.add(r.trim() + '\n');
    const pem = [...roots].join('');
    if (pem === this.currentBundle.pem) return;
    const version = crypto.createHash('sha256').update(pem).digest('hex').slice(0, 16);
    this.currentBundle = { trustDomain: this.trustDomain, pem, version };
    this.audit.record({ type: 'bundle', version, roots: roots.size });
    if (this.listeners.size) this.emit({ type: 'bundle', bundle: this.currentBundle });
  }

  private emit(event: AuthorityEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.options.logger.error({ err: { message: (err as Error).message }, event: event.type }, 'authority listener failed');
      }
    }
  }
}

/**
 * A requested SPIFFE ID as the audit log may quote it: only something shaped like
 * one (printable, no spaces). Anything else (a pasted PEM key, binary) is named,
 * not copied, so a caller's mistake cannot put a secret in the audit trail.
 */
function auditableId(value: unknown): string {
  return typeof value === 'string' && /^spiffe:\/\/[\x21-\x7e]{1,2048}$/i.test(value) ? value.slice(0, 256) : '(not a SPIFFE ID)';
}

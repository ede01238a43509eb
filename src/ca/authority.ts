import crypto from 'node:crypto';
import { WcaError, isWcaError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { UpstreamAuthority } from '../upstream/types.js';
import { parseSpiffeIdIn, parseTrustDomain } from '../spiffe/id.js';
import { parseDnsNames } from '../spiffe/dns.js';
import { csrToDer } from '../x509/csr.js';
import { SignerPool } from './signer-pool.js';
import { RemoteLeafSigner } from './remote-signer.js';
import { memoryKeyManager } from '../keys/memory.js';
import type { KeyManager } from '../keys/types.js';
import { mintIntermediate, type CaSlot } from './intermediate.js';
import { validateRoots } from '../upstream/validate.js';
import type { SignJob } from './sign-leaf.js';
import { keyTypes, type AuthorityEvent, type CsrLeafRequest, type IssuedCert, type IssuedSvid, type KeyType, type LeafIssuer, type LeafRequest, type ServerKeyLeafRequest, type TrustBundle } from './types.js';
import type { SlotName } from './slots.js';

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
}

/**
 * The in-memory CA. Holds up to three signing slots (active, next, old); issues
 * leaves from the active one; never exposes or serialises a CA key.
 */
export class Authority implements LeafIssuer {
  readonly trustDomain: string;
  private readonly pool: SignerPool;
  private readonly remote = new RemoteLeafSigner();
  private readonly keyManager: KeyManager;
  private readonly slots: Partial<Record<SlotName, CaSlot>> = {};
  private readonly listeners = new Set<(e: AuthorityEvent) => void>();
  /** Metric children bound once: label lookups per certificate are measurable at 10k/s. */
  private readonly pathMetrics: Record<'server_key' | 'csr', { issued: { inc(): void }; latency: { observe(v: number): void } }>;
  /** SPIFFE IDs already validated (pure function of the string); renewals repeat the same few. */
  private readonly validIds = new Map<string, string>();
  private currentBundle: TrustBundle;
  /** Roots the upstream announced ahead of use (root rotation): trusted before any leaf chains to them. */
  private announcedRoots: string[] = [];

  constructor(private readonly options: AuthorityOptions) {
    this.trustDomain = parseTrustDomain(options.trustDomain);
    this.keyManager = options.keyManager ?? memoryKeyManager();
    this.pool = new SignerPool({
      size: options.signers,
      logger: options.logger,
      onQueueDepth: (d) => options.metrics.signQueueDepth.set(d),
    });
    this.currentBundle = { trustDomain: this.trustDomain, pem: '', version: '' };
    const bind = (path: 'server_key' | 'csr') => ({
      issued: options.metrics.certsIssued.labels(path),
      latency: options.metrics.issueLatency.labels(path),
    });
    this.pathMetrics = { server_key: bind('server_key'), csr: bind('csr') };
  }

  /** Mints the first intermediate and makes it active. */
  async start(signal?: AbortSignal): Promise<void> {
    const slot = await this.mint(signal);
    this.install('active', slot);
  }

  /** Mints an intermediate into the "next" slot (rotation prepares ahead of time). */
  async prepareNext(signal?: AbortSignal): Promise<CaSlot> {
    const slot = await this.mint(signal);
    if (this.slots.next) this.pool.removeCa(this.slots.next.id);
    this.install('next', slot);
    return slot;
  }

  /** Promotes next → active, active → old, and asks subscribers to re-issue. */
  activateNext(reason: string): void {
    const next = this.slots.next;
    if (!next) throw new WcaError('ERR_CA_NOT_READY', 'no prepared intermediate to activate');
    const previous = this.slots.active;
    if (previous) this.install('old', previous);
    delete this.slots.next;
    this.install('active', next);
    this.options.logger.info({ caId: next.id, keyId: next.keyId, previous: previous?.id, reason }, 'activated intermediate');
    if (previous) this.emit({ type: 'reissue', caIds: [previous.id], reason });
  }

  retireOld(): void {
    if (this.slots.old) {
      delete this.slots.old;
      this.options.metrics.intermediateNotAfter.remove('old');
    }
  }

  /** Lifetimes of the slots, for the rotation scheduler and health. */
  slotLifetimes(): Partial<Record<SlotName, { id: string; notBeforeMs: number; notAfterMs: number }>> {
    const out: Partial<Record<SlotName, { id: string; notBeforeMs: number; notAfterMs: number }>> = {};
    for (const [name, s] of Object.entries(this.slots) as [SlotName, CaSlot][]) {
      out[name] = { id: s.id, notBeforeMs: s.notBeforeMs, notAfterMs: s.notAfterMs };
    }
    return out;
  }

  /**
   * Our intermediates in every slot (and the upstream chain above them): peers that
   * present only a leaf are verified through these, including leaves of the old slot
   * during a rotation.
   */
  intermediatesPem(): string[] {
    return Object.values(this.slots).map((s) => s.signing.chainPemSuffix);
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
      throw this.rejected(new WcaError('ERR_KEY_TYPE_UNSUPPORTED', `unknown key type "${String(keyType).slice(0, 32)}"; use one of ${keyTypes.join(', ')}`));
    }
    const result = await this.sign(request, (base) => ({ ...base, kind: 'key', keyType }), 'server_key');
    return { ...result.cert, privateKeyPem: result.privateKeyPem! };
  }

  async issueForCsr(request: CsrLeafRequest): Promise<IssuedCert> {
    let csrDer: Buffer;
    try {
      csrDer = csrToDer(request.csr);
    } catch (err) {
      throw this.rejected(err);
    }
    return (await this.sign(request, (base) => ({ ...base, kind: 'csr', csrDer }), 'csr')).cert;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.remote.close();
    await this.pool.close();
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
      throw this.rejected(err);
    }
    const ca = this.slots.active;
    if (!ca) throw this.rejected(new WcaError('ERR_CA_NOT_READY', 'no active intermediate yet; the CA is starting'));
    const now = this.options.clock.now();
    // A leaf never outlives its intermediate, and never starts before it.
    const notAfterMs = Math.min(now + ttl * 1000, ca.notAfterMs);
    const notBeforeMs = Math.max(now - this.options.backdateSeconds * 1000, ca.notBeforeMs);
    if (notAfterMs <= now) throw this.rejected(new WcaError('ERR_CA_NOT_READY', 'the active intermediate has expired'));
    try {
      const lineage = request.lineageStartMs;
      const lineageStartMs = typeof lineage === 'number' && Number.isFinite(lineage) && lineage >= 0 && lineage < now ? lineage : now;
      const job = makeJob({ spiffeId, dnsNames, notBeforeMs, notAfterMs, lineageStartMs });
      const r = 'remote' in ca.signing ? await this.remote.sign(ca.signing, job) : await this.pool.sign(ca.id, job);
      const m = this.pathMetrics[path];
      m.issued.inc();
      m.latency.observe((performance.now() - started) / 1000);
      return {
        cert: {
          spiffeId,
          chainPem: r.leafPem + ca.signing.chainPemSuffix,
          serial: r.serialHex,
          notBefore: new Date(Math.floor(notBeforeMs / 1000) * 1000),
          notAfter: new Date(Math.floor(notAfterMs / 1000) * 1000),
          caId: ca.id,
        },
        privateKeyPem: r.privateKeyPem,
      };
    } catch (err) {
      throw this.rejected(err);
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

  private rejected(err: unknown): unknown {
    this.options.metrics.issueErrors.inc({ code: isWcaError(err) ? err.code : 'ERR_INTERNAL' });
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

  private install(name: SlotName, slot: CaSlot): void {
    this.slots[name] = slot;
    // Signers hold what may sign (active, and next so activation has no gap); an old
    // slot only keeps its roots in the bundle until its leaves expire.
    if (name === 'old') this.pool.removeCa(slot.id);
    else if (!('remote' in slot.signing)) this.pool.addCa(slot.signing);
    this.options.metrics.intermediateNotAfter.set({ slot: name }, slot.notAfterMs / 1000);
    this.refreshBundle();
  }

  /** The bundle holds the roots of every slot, so a root rotation is trusted before it is used. */
  private refreshBundle(): void {
    const roots = new Set<string>();
    for (const s of Object.values(this.slots)) for (const r of s.rootsPem) roots.add(r.trim() + '\n');
    for (const r of this.announcedRoots) roots.add(r.trim() + '\n');
    const pem = [...roots].join('');
    if (pem === this.currentBundle.pem) return;
    const version = crypto.createHash('sha256').update(pem).digest('hex').slice(0, 16);
    this.currentBundle = { trustDomain: this.trustDomain, pem, version };
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

import v8 from 'node:v8';
import type { Clock } from '../clock.js';
import { backoffMs } from '../backoff.js';
import { GrpcStatus, WcaError, grpcStatusOf } from '../errors.js';
import type { AuthorityEvent, IssuePriority, IssuedSvid, LeafIssuer, ServerKeyLeafRequest, TrustBundle } from '../ca/types.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import { Limiter } from './limiter.js';

/**
 * Decides what each subscriber should have: one key and certificate per node
 * identity (shared by that node's streams, never across nodes or authenticated
 * instances) and the trust bundle. Holds a few identities per instance and a
 * fixed number in all. Renews at half of the remaining lifetime minus jitter,
 * re-issues at once when the CA retires the signer, and bounds concurrent issues.
 * Knows nothing of the xDS protocol; streams see it through watches that return a
 * cancel function.
 */
export interface SecretCacheOptions {
  issuer: LeafIssuer;
  clock: Clock;
  logger: Logger;
  /** Concurrent issues; capped at limits.sdsIssueConcurrency. */
  issueConcurrency?: number;
  /** An identity nobody watches is dropped after this long (a reconnect within it keeps the key). */
  idleMs?: number;
  /** Renewal happens at (0.5 - jitter·random()) of the remaining lifetime. */
  renewJitter?: number;
  random?: () => number;
  /** Node identities in all; capped at limits.sdsCachedIdentitiesMax. Default: identitiesForHeap(heapLimitBytes). */
  maxIdentities?: number;
  /** The heap limit the default maxIdentities is sized from; default V8's heap_size_limit. */
  heapLimitBytes?: number;
  /** Node identities per owner (one authenticated instance); capped at limits.sdsNodesPerInstanceMax. */
  maxIdentitiesPerOwner?: number;
}

type Listener<T> = (value: T) => void;

/** One watch: an object of its own, so the same listener can watch twice and each cancel removes one. */
interface Watcher<T> {
  readonly listener: Listener<T>;
  /** Told when the first certificate was refused for load (RESOURCE_EXHAUSTED): the caller is better off elsewhere than waiting. */
  readonly onShed?: (err: unknown) => void;
}

interface Entry {
  readonly key: string;
  /** Whose identity this is, for the per-owner cap; none for the server's own. */
  readonly owner: string | undefined;
  readonly request: ServerKeyLeafRequest;
  svid?: IssuedSvid;
  issuing: boolean;
  /** A re-issue was asked for while one was in flight. */
  again: boolean;
  /** Consecutive results signed by a CA already retired; stops a re-issue loop. */
  retiredResults: number;
  failures: number;
  readonly watchers: Set<Watcher<IssuedSvid>>;
  /** The one pending renew or retry timer. */
  cancelTimer?: () => void;
  cancelEvict?: () => void;
}

/**
 * How many node identities fit in limits.sdsIdentityHeapShare of a heap this large at
 * limits.sdsIdentityHeapBytes each: the default cap, so the cache is refused before
 * the process runs out of memory. At most limits.sdsCachedIdentitiesMax, at least 1.
 */
export function identitiesForHeap(heapLimitBytes: number = v8.getHeapStatistics().heap_size_limit): number {
  const fit = Math.floor((heapLimitBytes * limits.sdsIdentityHeapShare) / limits.sdsIdentityHeapBytes);
  return Math.max(1, Math.min(fit, limits.sdsCachedIdentitiesMax));
}

const retryBaseMs = 1000;
const retryMaxMs = 30_000;
const retiredCaIdsKept = 64;

export class SecretCache {
  private readonly entries = new Map<string, Entry>();
  /** Entries nobody watches, oldest first: the first to go when the cache is full. */
  private readonly idle = new Set<Entry>();
  private readonly owned = new Map<string, number>();
  /** The cap on node identities in all, as configured or sized from the heap. */
  readonly maxIdentities: number;
  private readonly maxPerOwner: number;
  private readonly bundleWatchers = new Set<Watcher<TrustBundle>>();
  private readonly retiredCaIds = new Set<string>();
  private readonly limiter: Limiter;
  private readonly unsubscribe: () => void;
  private readonly idleMs: number;
  private readonly renewJitter: number;
  private readonly random: () => number;
  private currentBundle: TrustBundle;
  private closed = false;

  constructor(private readonly options: SecretCacheOptions) {
    this.limiter = new Limiter(Math.min(options.issueConcurrency ?? limits.sdsIssueConcurrency, limits.sdsIssueConcurrency));
    this.idleMs = options.idleMs ?? 5 * 60_000;
    this.renewJitter = Math.min(Math.max(options.renewJitter ?? 0.1, 0), 0.4);
    this.random = options.random ?? Math.random;
    this.maxIdentities = Math.min(options.maxIdentities ?? identitiesForHeap(options.heapLimitBytes), limits.sdsCachedIdentitiesMax);
    this.maxPerOwner = Math.min(options.maxIdentitiesPerOwner ?? limits.sdsNodesPerInstanceMax, limits.sdsNodesPerInstanceMax);
    this.currentBundle = options.issuer.bundle();
    this.unsubscribe = options.issuer.subscribe((event) => this.onAuthorityEvent(event));
  }

  get bundle(): TrustBundle {
    return this.currentBundle;
  }

  /**
   * Calls listener now if a certificate is ready, and on every new one until
   * cancelled. A new identity past the owner's or the cache's cap is refused with
   * ERR_SDS_LIMIT (idle identities of others make room first). `onShed` hears
   * when the first certificate is refused because the CA is overloaded.
   */
  watchCertificate(
    key: string,
    request: ServerKeyLeafRequest,
    listener: Listener<IssuedSvid>,
    owner?: string,
    onShed?: (err: unknown) => void,
  ): () => void {
    if (this.closed) throw new Error('SecretCache is closed');
    const e = this.entries.get(key) ?? this.create(key, request, owner);
    e.cancelEvict?.();
    e.cancelEvict = undefined;
    this.idle.delete(e);
    const watcher: Watcher<IssuedSvid> = onShed ? { listener, onShed } : { listener };
    e.watchers.add(watcher);
    if (e.svid) listener(e.svid);
    else if (!e.issuing && !e.cancelTimer) this.issue(e);
    return () => {
      if (!e.watchers.delete(watcher) || e.watchers.size > 0 || this.entries.get(key) !== e) return;
      this.idle.add(e);
      e.cancelEvict = this.options.clock.schedule(() => this.evict(e), this.idleMs);
    };
  }

  private create(key: string, request: ServerKeyLeafRequest, owner: string | undefined): Entry {
    const owned = owner === undefined ? 0 : (this.owned.get(owner) ?? 0);
    if (owned >= this.maxPerOwner) {
      throw new WcaError(
        'ERR_SDS_LIMIT',
        `this caller already holds ${owned} node identities (limit ${this.maxPerOwner}); a node's key is kept ${this.idleMs / 1000} s after its last stream closes`,
        { details: { reason: 'nodes-per-instance', max: this.maxPerOwner } },
      );
    }
    if (this.entries.size >= this.maxIdentities) {
      const oldest = this.idle.values().next();
      if (oldest.done) {
        throw new WcaError('ERR_SDS_LIMIT', `the server holds ${this.entries.size} node identities, all in use (limit ${this.maxIdentities})`, {
          details: { reason: 'identities', max: this.maxIdentities },
        });
      }
      this.evict(oldest.value);
    }
    const entry: Entry = { key, owner, request, issuing: false, again: false, retiredResults: 0, failures: 0, watchers: new Set() };
    this.entries.set(key, entry);
    if (owner !== undefined) this.owned.set(owner, owned + 1);
    return entry;
  }

  watchBundle(listener: Listener<TrustBundle>): () => void {
    const watcher: Watcher<TrustBundle> = { listener };
    this.bundleWatchers.add(watcher);
    listener(this.currentBundle);
    return () => void this.bundleWatchers.delete(watcher);
  }

  /** Drops every identity of a SPIFFE ID (eviction), so whoever authenticates again gets a new key and lineage. */
  forget(spiffeId: string): void {
    for (const entry of [...this.entries.values()]) if (entry.request.spiffeId === spiffeId) this.evict(entry);
  }

  stats(): { identities: number; watchers: number; issuing: number; queued: number } {
    let watchers = 0;
    for (const entry of this.entries.values()) watchers += entry.watchers.size;
    return { identities: this.entries.size, watchers, issuing: this.limiter.active, queued: this.limiter.queued };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const entry of this.entries.values()) this.cancelTimers(entry);
    this.entries.clear();
    this.idle.clear();
    this.owned.clear();
    this.bundleWatchers.clear();
  }

  private onAuthorityEvent(event: AuthorityEvent): void {
    if (event.type === 'bundle') {
      if (event.bundle.version === this.currentBundle.version) return;
      this.currentBundle = event.bundle;
      for (const watcher of [...this.bundleWatchers]) this.deliver(watcher, event.bundle);
      return;
    }
    for (const caId of event.caIds) this.retiredCaIds.add(caId);
    while (this.retiredCaIds.size > retiredCaIdsKept) this.retiredCaIds.delete(this.retiredCaIds.values().next().value!);
    let count = 0;
    for (const entry of this.entries.values()) {
      // In-flight issues are checked against the retired set when they complete.
      if (entry.svid && !entry.issuing && event.caIds.includes(entry.svid.caId)) {
        this.issue(entry);
        count++;
      }
    }
    this.options.logger.info({ reason: event.reason, caIds: event.caIds, identities: count }, 'sds: re-issuing certificates');
  }

  /**
   * A first certificate is interactive: someone waits for it, so it skips the
   * limiter and jumps the signer's bulk lane (the signer's queue bound sheds it
   * under overload). Renewals and re-issues are bulk and go through the limiter,
   * whose queue holds at most one issue per cached identity.
   */
  private issue(entry: Entry): void {
    if (entry.issuing) {
      entry.again = true;
      return;
    }
    entry.issuing = true;
    entry.cancelTimer?.();
    entry.cancelTimer = undefined;
    const issue = async (priority: IssuePriority) => (this.isLive(entry) ? this.options.issuer.issue({ ...entry.request, priority }) : undefined);
    (entry.svid ? this.limiter.run(() => issue('bulk')) : issue('interactive')).then(
        (svid) => this.onIssued(entry, svid),
        (err: unknown) => this.onIssueFailed(entry, err),
      );
  }

  private onIssued(entry: Entry, svid: IssuedSvid | undefined): void {
    entry.issuing = false;
    if (!svid || !this.isLive(entry)) return;
    entry.failures = 0;
    const retired = this.retiredCaIds.has(svid.caId);
    entry.retiredResults = retired ? entry.retiredResults + 1 : 0;
    entry.svid = svid;
    for (const watcher of [...entry.watchers]) this.deliver(watcher, svid);
    if (entry.again || (retired && entry.retiredResults === 1)) {
      entry.again = false;
      this.issue(entry);
    } else {
      this.scheduleRenewal(entry, svid);
    }
  }

  private onIssueFailed(entry: Entry, err: unknown): void {
    entry.issuing = false;
    entry.again = false;
    if (!this.isLive(entry)) return;
    entry.failures++;
    if (!entry.svid && grpcStatusOf(err) === GrpcStatus.RESOURCE_EXHAUSTED) {
      for (const watcher of [...entry.watchers]) watcher.onShed?.(err);
    }
    const delay = backoffMs(entry.failures, retryBaseMs, retryMaxMs, this.random);
    const code = (err as { code?: string }).code ?? 'unknown';
    // Keep serving the current certificate (if any); only the retry is scheduled.
    this.options.logger.warn({ spiffeId: entry.request.spiffeId, code, retryMs: delay }, 'sds: certificate issue failed');
    entry.cancelTimer = this.options.clock.schedule(() => this.onTimer(entry), delay);
  }

  private scheduleRenewal(entry: Entry, svid: IssuedSvid): void {
    const remaining = Math.max(0, svid.notAfter.getTime() - this.options.clock.now());
    const delay = Math.floor(remaining * (0.5 - this.renewJitter * this.random()));
    entry.cancelTimer = this.options.clock.schedule(() => this.onTimer(entry), delay);
  }

  private onTimer(entry: Entry): void {
    entry.cancelTimer = undefined;
    if (entry.watchers.size === 0) this.evict(entry);
    else this.issue(entry);
  }

  private evict(entry: Entry): void {
    this.cancelTimers(entry);
    this.idle.delete(entry);
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    const { owner } = entry;
    if (owner === undefined) return;
    const left = this.owned.get(owner)! - 1;
    if (left > 0) this.owned.set(owner, left);
    else this.owned.delete(owner);
  }

  private cancelTimers(entry: Entry): void {
    entry.cancelTimer?.();
    entry.cancelEvict?.();
    entry.cancelTimer = entry.cancelEvict = undefined;
  }

  private isLive(entry: Entry): boolean {
    return !this.closed && this.entries.get(entry.key) === entry;
  }

  /** One subscriber's failure must not stop delivery to the others. */
  private deliver<T>(watcher: Watcher<T>, value: T): void {
    try {
      watcher.listener(value);
    } catch (err) {
      this.options.logger.error({ err }, 'sds: watcher failed');
    }
  }
}

import type { Clock } from '../clock.js';
import { WcaError } from '../errors.js';
import { limits } from '../limits.js';

export interface Eviction {
  spiffeId: string;
  evictedAtMs: number;
  /** After this every certificate of a lineage begun before the eviction has expired: the entry is dropped. */
  expiresAtMs: number;
}

/**
 * Identities an operator evicted: their certificates current at the eviction
 * (every lineage begun before it) may no longer renew over mTLS; the caller must
 * present its original credential (join token, JWT) again. In memory and bounded:
 * an entry lives only as long as the longest leaf issued before it, and at most
 * limits.evictionsMax entries exist.
 */
export class EvictionList {
  /** Insertion order is expiry order: every entry lives the same time. */
  private readonly entries = new Map<string, Eviction>();

  /** `keepMs`: the longest a leaf issued before an eviction can stay valid (ca.leafMaxTtl). */
  constructor(
    private readonly clock: Clock,
    private readonly keepMs: number,
  ) {}

  get size(): number {
    this.prune();
    return this.entries.size;
  }

  /** `spiffeId` must already be normalised (parseSpiffeId(...).uri). Evicting again moves the cut-off forward. */
  evict(spiffeId: string): Eviction {
    this.prune();
    if (!this.entries.has(spiffeId) && this.entries.size >= limits.evictionsMax) {
      throw new WcaError('ERR_EVICTION_LIMIT', `${limits.evictionsMax} identities are evicted already; wait for their certificates to expire`);
    }
    const now = this.clock.now();
    const eviction = { spiffeId, evictedAtMs: now, expiresAtMs: now + this.keepMs };
    this.entries.delete(spiffeId);
    this.entries.set(spiffeId, eviction);
    return eviction;
  }

  /**
   * Throws ERR_IDENTITY_EVICTED when a lineage of `spiffeId` that began at
   * `lineageStartMs` was current when it was evicted. Lineage starts have seconds
   * precision, so one in the eviction's own second counts as before it.
   */
  check(spiffeId: string, lineageStartMs: number): void {
    const eviction = this.entries.get(spiffeId);
    if (eviction === undefined || eviction.expiresAtMs <= this.clock.now()) return;
    if (lineageStartMs <= eviction.evictedAtMs) {
      throw new WcaError(
        'ERR_IDENTITY_EVICTED',
        `${spiffeId} was evicted at ${new Date(eviction.evictedAtMs).toISOString()}: its certificates from before then cannot renew; present the original credential (join token, JWT) again`,
        { details: { reason: 'evicted', evictedAt: new Date(eviction.evictedAtMs).toISOString() } },
      );
    }
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [id, eviction] of this.entries) {
      if (eviction.expiresAtMs > now) break;
      this.entries.delete(id);
    }
  }
}

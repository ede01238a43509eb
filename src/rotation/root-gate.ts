import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';

/** How many subscribers acknowledged a bundle version (the SDS convergence tracker answers). */
export interface BundleAcks {
  bundleAcks(version: string): { acked: number; subscribers: number };
}

export interface RootGateOptions {
  clock: Clock;
  logger: Logger;
  acks: BundleAcks;
  /** Share (0..1] of bundle subscribers that must have acknowledged; 1 = all connected. */
  share: number;
  /** After this long since a root first entered the bundle, activation proceeds anyway (logged). */
  graceMs: number;
}

const norm = (pem: string) => pem.trim();

/**
 * Trust before use, on acknowledgement: an intermediate chained to a root the active
 * one does not chain to may be activated only once the subscribers have ACKed a
 * bundle carrying that root (or the grace has passed). Pure decision over the
 * tracker's counts and the clock; the rotator asks it before each activation.
 */
export class RootGate {
  private readonly firstSeen = new Map<string, number>();
  private readonly graceLogged = new Set<string>();

  constructor(private readonly options: RootGateOptions) {}

  /** May an authority chained to `nextRoots` replace one chained to `activeRoots`, given the current bundle? */
  allows(nextRoots: readonly string[], activeRoots: readonly string[], bundle: { pem: string; version: string }): boolean {
    const active = new Set(activeRoots.map(norm));
    const fresh = nextRoots.map(norm).filter((r) => !active.has(r));
    if (fresh.length === 0) return true;
    const key = [...fresh].sort().join('\n');
    const now = this.options.clock.now();
    if (!this.firstSeen.has(key)) this.firstSeen.set(key, now);
    // A root not in the bundle yet is never used, however long we waited.
    if (!fresh.every((r) => bundle.pem.includes(r))) return false;
    const { acked, subscribers } = this.options.acks.bundleAcks(bundle.version);
    if (acked >= Math.ceil(subscribers * this.options.share)) {
      this.options.logger.info({ bundle: bundle.version, acked, subscribers }, 'new root acknowledged by subscribers; activating an intermediate chained to it');
      return true;
    }
    if (now - this.firstSeen.get(key)! >= this.options.graceMs) {
      if (!this.graceLogged.has(key)) {
        this.graceLogged.add(key);
        this.options.logger.warn(
          { bundle: bundle.version, acked, subscribers, graceSeconds: this.options.graceMs / 1000 },
          'root rotation grace passed before every subscriber acknowledged the new root; activating anyway',
        );
      }
      return true;
    }
    return false;
  }
}

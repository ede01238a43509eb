import type { Clock } from '../clock.js';
import { WcaError } from '../errors.js';
import { limits } from '../limits.js';
import type { StreamCaller } from './source.js';

/** What an open stream registers: a way to end it with an error's status. */
type End = (err: unknown) => void;

/** The evictions the SDS layer re-checks when a stream starts (identity/evictions.ts). */
export interface EvictionCheck {
  check(spiffeId: string, lineageStartMs: number): void;
}

/**
 * The authorized streams of each SPIFFE ID, so an operator's eviction can end
 * them, and the deadline of each (a renewal lineage reaching its maximum age):
 * long-lived streams keep receiving renewed certificates, so the bound on a
 * lineage must end them too, not only refuse the next authentication. Also
 * bounds the streams of each authenticated instance, so one credential cannot
 * take the server-wide allowance from everyone else.
 */
export class IdentityStreams {
  private readonly bySpiffeId = new Map<string, Set<End>>();
  private readonly perInstance = new Map<string, number>();
  private readonly maxPerInstance: number;

  /** `maxPerInstance`: sds.maxStreamsPerInstance, capped at limits.sdsStreamsPerInstanceMax. */
  constructor(
    private readonly clock: Clock,
    private readonly evictions?: EvictionCheck,
    maxPerInstance: number = limits.sdsStreamsPerInstanceMax,
  ) {
    this.maxPerInstance = Math.min(maxPerInstance, limits.sdsStreamsPerInstanceMax);
  }

  /**
   * Registers a stream that was just authorized; returns its release. Throws when
   * the caller's lineage was evicted between its authentication and now, or
   * ERR_SDS_LIMIT when its instance already holds sds.maxStreamsPerInstance streams.
   */
  admit(caller: StreamCaller, end: End): () => void {
    const id = caller.grant.spiffeId;
    if (caller.lineageStartMs !== undefined) this.evictions?.check(id, caller.lineageStartMs);
    const { instance } = caller;
    const held = this.perInstance.get(instance) ?? 0;
    if (held >= this.maxPerInstance) {
      throw new WcaError('ERR_SDS_LIMIT', `this caller (${id}) already holds ${held} SDS streams (sds.maxStreamsPerInstance)`, {
        details: { reason: 'streams-per-instance', limit: this.maxPerInstance },
      });
    }
    this.perInstance.set(instance, held + 1);
    let ends = this.bySpiffeId.get(id);
    if (!ends) this.bySpiffeId.set(id, (ends = new Set()));
    ends.add(end);
    const validUntil = caller.validUntilMs;
    const cancel =
      validUntil === undefined
        ? undefined
        : this.clock.schedule(
            () =>
              end(
                new WcaError('ERR_LINEAGE_EXPIRED', `the renewal lineage of ${id} reached its maximum age: present the original credential (join token, JWT) again`, {
                  details: { reason: 'lineage-max-age' },
                }),
              ),
            validUntil - this.clock.now(),
          );
    let released = false;
    return () => {
      if (released) return;
      released = true;
      cancel?.();
      const left = this.perInstance.get(instance)! - 1;
      if (left > 0) this.perInstance.set(instance, left);
      else this.perInstance.delete(instance);
      ends.delete(end);
      if (ends.size === 0 && this.bySpiffeId.get(id) === ends) this.bySpiffeId.delete(id);
    };
  }

  /** Ends every open stream of `spiffeId` with `err`; returns how many there were. */
  end(spiffeId: string, err: unknown): number {
    const ends = [...(this.bySpiffeId.get(spiffeId) ?? [])];
    for (const end of ends) end(err);
    return ends.length;
  }
}

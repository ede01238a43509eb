import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import { MISSED_BEATS } from './heartbeat.js';
import { liveStatuses } from './replica-status.js';
import type { ReplicaMembership } from './types.js';

/**
 * Bounds on what one replica's status may make us hold: a row in the database is not
 * trusted input either. A replica publishes no more of each list than peers keep.
 */
export const MAX_CHAINS_PER_REPLICA = 8;
const MAX_CHAIN_BYTES = 16 * 1024;

const chain = z.string().max(MAX_CHAIN_BYTES).startsWith('-----BEGIN CERTIFICATE-----');
/**
 * What a heartbeat says about its intermediates (app.ts): the ones its SVIDs renew
 * under, newest (the one signing now) first, and the tainted ones, listed apart so
 * they never crowd out the active one. Longer lists are cut, not refused.
 */
const peerStatus = z.object({
  intermediates: z.array(z.unknown()).optional(),
  taintedIntermediates: z.array(z.unknown()).optional(),
});

/**
 * The intermediates the other live replicas sign with, read from their heartbeats,
 * so a machine whose replica went away renews over mTLS on any other. Refreshed on
 * an interval; while the store is unreachable the last list read stays in use
 * (renewal must not stop with the database). Trusting them adds nothing a database
 * writer could not already get: whoever writes the store can mint join tokens.
 * The TLS handshake has validated every client chain against the bundle before.
 * A peer's tainted intermediates are never trusted; they only name the reason of a refusal.
 */
export class PeerIntermediates {
  private chains: { current: readonly string[]; tainted: readonly string[] } = { current: [], tainted: [] };
  /** Per other replica: its chains and how many successful reads in a row have not listed it. */
  private readonly known = new Map<string, { current: string[]; tainted: string[]; unlisted: number }>();
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly options: { membership: ReplicaMembership; selfId: string; clock: Clock; intervalMs: number; logger: Logger },
  ) {}

  /** PEM chains (intermediate first) of the other replicas' signing slots whose leaves may renew. */
  current(): readonly string[] {
    return this.chains.current;
  }

  /** PEM chains of the other replicas' tainted intermediates. */
  tainted(): readonly string[] {
    return this.chains.tainted;
  }

  start(): void {
    void this.refresh();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  async refresh(): Promise<void> {
    const o = this.options;
    try {
      const others = (await liveStatuses(o.membership, peerStatus, o.logger)).filter((r) => r.replicaId !== o.selfId);
      // After an outage every row has lapsed until its replica beats again: a replica is
      // gone only once MISSED_BEATS reads of a reachable store in a row have not listed it.
      for (const entry of this.known.values()) entry.unlisted++;
      for (const r of others) {
        this.known.set(r.replicaId, { current: chainsOf(r.status.intermediates), tainted: chainsOf(r.status.taintedIntermediates), unlisted: 0 });
      }
      for (const [id, entry] of this.known) if (entry.unlisted >= MISSED_BEATS) this.known.delete(id);
      const entries = [...this.known.values()];
      this.chains = { current: entries.flatMap((e) => e.current), tainted: entries.flatMap((e) => e.tainted) };
    } catch (err) {
      o.logger.debug({ err: (err as Error).message }, 'peer intermediates not refreshed; keeping the last list');
    }
    if (!this.stopped) this.cancel = o.clock.schedule(() => void this.refresh(), o.intervalMs);
  }
}

function chainsOf(value: readonly unknown[] | undefined): string[] {
  return (value ?? []).slice(0, MAX_CHAINS_PER_REPLICA).filter((c): c is string => chain.safeParse(c).success);
}

import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import { MISSED_BEATS } from './heartbeat.js';
import type { ReplicaMembership } from './types.js';

/** Bounds on what one replica's status may make us hold: a row in the database is not trusted input either. */
const MAX_CHAINS_PER_REPLICA = 8;
const MAX_CHAIN_BYTES = 16 * 1024;

/**
 * The intermediates the other live replicas sign with, read from their heartbeats,
 * so a machine whose replica went away renews over mTLS on any other. Refreshed on
 * an interval; while the store is unreachable the last list read stays in use
 * (renewal must not stop with the database). Trusting them adds nothing a database
 * writer could not already get: whoever writes the store can mint join tokens.
 * The TLS handshake has validated every client chain against the bundle before.
 */
export class PeerIntermediates {
  private chains: readonly string[] = [];
  /** Per other replica: its chains and how many successful reads in a row have not listed it. */
  private readonly known = new Map<string, { chains: string[]; unlisted: number }>();
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly options: { membership: ReplicaMembership; selfId: string; clock: Clock; intervalMs: number; logger: Logger },
  ) {}

  /** PEM chains (intermediate first) of the other replicas' current signing slots. */
  current(): readonly string[] {
    return this.chains;
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
      const replicas = (await o.membership.live()).filter((r) => r.replicaId !== o.selfId);
      // After an outage every row has lapsed until its replica beats again: a replica is
      // gone only once MISSED_BEATS reads of a reachable store in a row have not listed it.
      for (const entry of this.known.values()) entry.unlisted++;
      for (const r of replicas) this.known.set(r.replicaId, { chains: chainsOf(r.status.intermediates), unlisted: 0 });
      for (const [id, entry] of this.known) if (entry.unlisted >= MISSED_BEATS) this.known.delete(id);
      this.chains = [...this.known.values()].flatMap((e) => e.chains);
    } catch (err) {
      o.logger.debug({ err: (err as Error).message }, 'peer intermediates not refreshed; keeping the last list');
    }
    if (!this.stopped) this.cancel = o.clock.schedule(() => void this.refresh(), o.intervalMs);
  }
}

function chainsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .slice(0, MAX_CHAINS_PER_REPLICA)
    .filter((c): c is string => typeof c === 'string' && c.length <= MAX_CHAIN_BYTES && c.startsWith('-----BEGIN CERTIFICATE-----'));
}

import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { ReplicaMembership } from './types.js';

/** A replica counts as gone after this many intervals without a heartbeat: one lost beat is not a departure. */
export const MISSED_BEATS = 3;

export interface HeartbeatOptions {
  replicaId: string;
  membership: ReplicaMembership;
  /** This replica's summary at the time of each beat (authorities, subscribers). */
  status: () => Readonly<Record<string, unknown>>;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
}

/** Records this replica as alive on every interval; a failed beat is logged and the next one tries again. */
export class Heartbeat {
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    void this.beat();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private async beat(): Promise<void> {
    const o = this.options;
    try {
      await o.membership.heartbeat(o.replicaId, o.status(), o.intervalMs * MISSED_BEATS);
    } catch (err) {
      o.logger.debug({ err: (err as Error).message, replicaId: o.replicaId }, 'replica heartbeat failed');
    }
    if (!this.stopped) this.cancel = o.clock.schedule(() => void this.beat(), o.intervalMs);
  }
}

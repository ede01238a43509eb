import type { Clock } from '../clock.js';
import { isWcaError } from '../errors.js';
import { limits } from '../limits.js';
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
  /** Counts each failed beat (wca_state_heartbeat_failures_total). */
  onFailure?: () => void;
}

/** Records this replica as alive on every interval; a failed beat is logged and the next one tries again. */
export class Heartbeat {
  private cancel: (() => void) | undefined;
  private stopped = false;
  /** When a failure was last logged; undefined while beats succeed. */
  private failureLoggedAtMs: number | undefined;
  private failing = 0;
  private unreachable = false;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    void this.beat();
  }

  /** Why this replica may be missing from the fleet view, while its beats fail (for /readyz). */
  problem(): string | undefined {
    // An unreachable store has its own readiness line (and clears with it); this one is for a store that answers and refuses.
    if (this.failing === 0 || this.unreachable) return undefined;
    return `replica heartbeat failing (${this.failing} beats in a row): other replicas drop this one after ${MISSED_BEATS}`;
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private async beat(): Promise<void> {
    const o = this.options;
    try {
      await o.membership.heartbeat(o.replicaId, o.status(), o.intervalMs * MISSED_BEATS);
      if (this.failing > 0) o.logger.info({ replicaId: o.replicaId, failedBeats: this.failing }, 'replica heartbeat recovered');
      this.failing = 0;
      this.failureLoggedAtMs = undefined;
    } catch (err) {
      this.failed(err);
    }
    if (!this.stopped) this.cancel = o.clock.schedule(() => void this.beat(), o.intervalMs);
  }

  /** Beats that keep failing take this replica out of the fleet: say so loudly, but once a minute, not once a beat. */
  private failed(err: unknown): void {
    const o = this.options;
    this.failing += 1;
    this.unreachable = isWcaError(err, 'ERR_STATE_STORE_UNAVAILABLE');
    o.onFailure?.();
    const now = o.clock.now();
    if (this.failureLoggedAtMs !== undefined && now - this.failureLoggedAtMs < limits.heartbeatFailureLogIntervalMs) return;
    this.failureLoggedAtMs = now;
    o.logger.warn(
      { err: (err as Error).message, code: (err as { code?: unknown }).code, replicaId: o.replicaId, failedBeats: this.failing },
      'replica heartbeat failed: other replicas drop this one once its heartbeat lapses',
    );
  }
}

import type { Clock } from '../clock.js';
import { limits } from '../limits.js';
import type { Log } from './stream-log.js';

/** At most `perSecond` lines a second; what it holds back is counted, not kept. */
export class LineBudget {
  private windowStart = -Infinity;
  private written = 0;
  private heldBack = 0;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
  ) {}

  /** The number of lines held back since the last one written, or undefined when this one must be held back too. */
  take(): number | undefined {
    const now = this.clock.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.written = 0;
    }
    if (this.written >= this.perSecond) {
      this.heldBack++;
      return undefined;
    }
    this.written++;
    const held = this.heldBack;
    this.heldBack = 0;
    return held;
  }
}

/**
 * Each grant and each denial on the SDS listener, one info line each, so an
 * operator sees who got which SPIFFE ID and who was turned away without turning
 * on debug. A flood of either (a misconfigured fleet, a scanner) is cut to
 * `limits.sdsDecisionLinesPerSecond` lines a second, grants and denials budgeted
 * apart so denials cannot crowd out grants; the next line written carries
 * `suppressed`, the count of lines held back before it. O(1) memory whatever callers send.
 */
export class DecisionLog {
  private readonly grants: LineBudget;
  private readonly denials: LineBudget;

  constructor(clock: Clock, perSecond: number = limits.sdsDecisionLinesPerSecond) {
    this.grants = new LineBudget(clock, perSecond);
    this.denials = new LineBudget(clock, perSecond);
  }

  granted(log: Log, fields: Record<string, unknown>): void {
    const held = this.grants.take();
    if (held !== undefined) log.info({ ...fields, ...(held ? { suppressed: held } : {}) }, 'sds: granted');
  }

  denied(log: Log, fields: Record<string, unknown>): void {
    const held = this.denials.take();
    if (held !== undefined) log.info({ ...fields, ...(held ? { suppressed: held } : {}) }, 'sds: denied');
  }
}

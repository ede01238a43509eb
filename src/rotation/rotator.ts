import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import { rotationStep, nextStepAt, type Lifetime, type RotationStep } from '../ca/slots.js';
import { isWcaError, publicMessageOf } from '../errors.js';
import { backoffMs } from '../backoff.js';

/** What the rotator drives; the Authority implements it. Declared here so rotation depends on nothing else. */
export interface RotatableCa {
  slotLifetimes(): { active?: Lifetime; next?: Lifetime; old?: Lifetime };
  /** `signal` aborts an upstream call in flight when the rotator stops. */
  prepareNext(signal?: AbortSignal): Promise<unknown>;
  activateNext(reason: string): void;
  retireOld(): void;
}

export interface RotatorOptions {
  clock: Clock;
  logger: Logger;
  /** Backoff after a failed prepare: base doubles up to max, jittered (src/backoff.ts). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  random?: () => number;
  /** Reports each step's outcome (metrics); failures count consecutive failed steps. */
  onOutcome?: (step: RotationStep, failures: number) => void;
  /** Asked before a scheduled activation (root rotation waits for bundle ACKs); false = ask again later. */
  mayActivate?: () => boolean;
  /** How often a held activation is asked again. */
  gateRecheckMs?: number;
}

/** What readiness and operators need to know about rotation. */
export interface RotationStatus {
  consecutiveFailures: number;
  /** The last failure's code and public message, until a step succeeds. */
  lastError?: { step: RotationStep; code: string; message: string };
}

/**
 * Ticks only when the next step is due (no polling loop), performs one step, and
 * re-arms. An upstream failure never disturbs the active intermediate: it is
 * retried with jittered backoff while the current one keeps serving.
 */
export class Rotator {
  private cancel: (() => void) | undefined;
  private failures = 0;
  private lastError: RotationStatus['lastError'];
  private running = false;
  private stopped = false;
  private held = false;
  /** Aborted on stop, so a shutdown never waits for an upstream call. */
  private lifetime = new AbortController();

  constructor(
    private readonly ca: RotatableCa,
    private readonly options: RotatorOptions,
  ) {}

  start(): void {
    this.stopped = false;
    if (this.lifetime.signal.aborted) this.lifetime = new AbortController();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.lifetime.abort();
  }

  status(): RotationStatus {
    return { consecutiveFailures: this.failures, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /** One step now; exposed for tests and for the admin API's "rotate" later. */
  async tick(): Promise<RotationStep> {
    if (this.running) return 'none';
    this.running = true;
    const step = rotationStep(this.ca.slotLifetimes(), this.options.clock.now());
    try {
      switch (step) {
        case 'prepare':
          await this.ca.prepareNext(this.lifetime.signal);
          this.failures = 0;
          this.lastError = undefined;
          break;
        case 'activate':
          this.held = this.options.mayActivate?.() === false;
          if (this.held) return 'none';
          this.ca.activateNext('scheduled rotation');
          break;
        case 'retire-old':
          this.ca.retireOld();
          break;
        case 'none':
          break;
      }
      if (step !== 'none') this.options.onOutcome?.(step, 0);
      return step;
    } catch (err) {
      // A step cancelled by stop() is shutdown, not an upstream failure.
      if (this.stopped) throw err;
      this.failures++;
      const code = isWcaError(err) ? err.code : 'ERR_INTERNAL';
      this.lastError = { step, code, message: publicMessageOf(err) };
      this.options.onOutcome?.(step, this.failures);
      this.options.logger.error(
        { step, failures: this.failures, code, error: this.lastError.message },
        'rotation step failed; current intermediate keeps serving',
      );
      throw err;
    } finally {
      this.running = false;
    }
  }

  private arm(): void {
    if (this.stopped) return;
    this.cancel?.();
    const due = nextStepAt(this.ca.slotLifetimes());
    if (due === undefined) return;
    const delay = this.failures > 0 ? this.backoffMs() : this.held ? (this.options.gateRecheckMs ?? 5_000) : Math.max(0, due - this.options.clock.now());
    this.cancel = this.options.clock.schedule(() => {
      this.tick().then(
        () => this.arm(),
        () => this.arm(),
      );
    }, delay);
  }

  private backoffMs(): number {
    return backoffMs(this.failures, this.options.retryBaseMs ?? 5_000, this.options.retryMaxMs ?? 5 * 60_000, this.options.random);
  }
}

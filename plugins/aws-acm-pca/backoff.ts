import type { Schedule } from '../../src/upstream/sdk/schedule.js';
import { backoffMs } from '../../src/upstream/sdk/backoff.js';
import type { BackoffConfig } from './config.js';

/** Wait before attempt `attempt + 1` (attempt counts from 1): in [step/2, step]. */
export function backoffDelay(config: BackoffConfig, attempt: number, random: () => number = Math.random): number {
  return backoffMs(attempt, config.initialDelayMs, config.maxDelayMs, random);
}

/** Resolves after ms on the injected scheduler; rejects with `onAbort()` when signal fires. */
export function sleep(schedule: Schedule, ms: number, signal: AbortSignal, onAbort: () => Error): Promise<void> {
  if (signal.aborted) return Promise.reject(onAbort());
  return new Promise((resolve, reject) => {
    const abort = () => {
      cancel();
      reject(onAbort());
    };
    const cancel = schedule(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal.addEventListener('abort', abort, { once: true });
  });
}

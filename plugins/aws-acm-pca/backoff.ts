/**
 * Jittered exponential waits. Jitter keeps N replicas that were throttled
 * together from coming back together; the floor of half the step keeps a
 * retry from ever following immediately.
 */
import type { Schedule } from '../../src/upstream/sdk/schedule.js';
import type { BackoffConfig } from './config.js';

/** Wait before attempt `attempt + 1` (attempt counts from 1): in [step/2, step]. */
export function backoffDelay(config: BackoffConfig, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(config.maxDelayMs, config.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
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

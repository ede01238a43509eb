/**
 * Jittered exponential backoff, one formula for every retry in the process. The
 * jitter keeps replicas that failed together from coming back together; the floor
 * of half a step keeps a retry from ever following at once.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Injected wherever time matters, so rotation and renewal tests never sleep. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs fn after ms (as measured by this clock); returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(fn, ms) {
    // Node caps timers at 2^31-1 ms (~24.8 days); re-arm for longer waits.
    const max = 2 ** 31 - 1;
    let handle: NodeJS.Timeout;
    const arm = (remaining: number) => {
      handle = setTimeout(() => (remaining > max ? arm(remaining - max) : fn()), Math.min(Math.max(remaining, 0), max));
      handle.unref();
    };
    arm(ms);
    return () => clearTimeout(handle);
  },
};

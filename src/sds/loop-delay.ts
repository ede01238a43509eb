import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * The main thread's recent event-loop delay (p99 over the last window). Under
 * overload the backlog is not in any queue the CA owns (the signer queue is bounded
 * by ca.maxIssuanceWait) but in HTTP/2 frames and requests waiting for the main
 * thread, so admitted requests slow down for everyone; refusing new streams while
 * the delay is high is what keeps the admitted ones fast.
 */
export interface LoopDelay {
  /** True while the last window's p99 delay was above the threshold. */
  overloaded(): boolean;
  close(): void;
}

const WINDOW_MS = 250;

export function watchLoopDelay(thresholdMs: number): LoopDelay {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let over = false;
  const timer = setInterval(() => {
    over = histogram.count > 0 && histogram.percentile(99) / 1e6 > thresholdMs;
    histogram.reset();
  }, WINDOW_MS);
  timer.unref();
  return {
    overloaded: () => over,
    close() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

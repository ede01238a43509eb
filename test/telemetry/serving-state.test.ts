import { describe, expect, it, vi } from 'vitest';
import { ServingState } from '../../src/telemetry/serving-state.js';
import { limits } from '../../src/limits.js';
import type { Readiness } from '../../src/telemetry/readiness.js';

describe('ServingState', () => {
  it('is not ready while a named listener is not started, and names it', () => {
    const state = new ServingState(() => ({ state: 'ready' }), ['http', 'sds']);
    state.attach('http', () => true);
    const report = state.report();
    expect(report.state).toBe('not-ready');
    expect(report.checks).toContainEqual({ name: 'sds', ok: false, detail: 'not accepting connections' });
    expect(report.reason).toContain('sds');
    state.attach('sds', () => true);
    expect(state.report()).toMatchObject({ state: 'ready' });
  });

  it('a listener that stops accepting makes it not ready; a degraded intermediate stays ready with the reason', () => {
    let open = true;
    let intermediate: Readiness = { state: 'degraded', reason: 'rotation overdue' };
    const state = new ServingState(() => intermediate, ['sds']);
    state.attach('sds', () => open);
    expect(state.report()).toMatchObject({ state: 'degraded', reason: 'rotation overdue' });
    expect(state.serving()).toBe(true);
    open = false;
    expect(state.serving()).toBe(false);
    open = true;
    intermediate = { state: 'not-ready', reason: 'no active intermediate' };
    expect(state.report()).toMatchObject({ state: 'not-ready', reason: 'intermediate: no active intermediate' });
  });

  it('drain: not ready at once, watchers told at once, whatever the checks say', () => {
    const state = new ServingState(() => ({ state: 'ready' }), ['sds']);
    state.attach('sds', () => true);
    const seen: boolean[] = [];
    const cancel = state.watch((serving) => seen.push(serving));
    state.drain();
    expect(seen).toEqual([true, false]);
    expect(state.report()).toMatchObject({ state: 'draining', reason: 'shutting down' });
    cancel();
  });

  it('watchers hear a change without an event (an intermediate expiring) within healthWatchPollMs, and only changes', () => {
    vi.useFakeTimers();
    try {
      let intermediate: Readiness = { state: 'ready' };
      const state = new ServingState(() => intermediate, []);
      const seen: boolean[] = [];
      const cancel = state.watch((serving) => seen.push(serving));
      vi.advanceTimersByTime(limits.healthWatchPollMs * 3);
      expect(seen).toEqual([true]);
      intermediate = { state: 'not-ready', reason: 'active intermediate expired' };
      vi.advanceTimersByTime(limits.healthWatchPollMs);
      expect(seen).toEqual([true, false]);
      cancel();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

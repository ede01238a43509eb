import { describe, expect, it } from 'vitest';
import { idempotencyToken } from '../../../plugins/aws-acm-pca/authority.js';
import { backoffDelay, sleep } from '../../../plugins/aws-acm-pca/backoff.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const config = { initialDelayMs: 1_000, maxDelayMs: 20_000, maxAttempts: 3 };

describe('aws-acm-pca backoff', () => {
  it.each([
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [3, 2_000, 4_000],
    [6, 10_000, 20_000],
    [20, 10_000, 20_000],
  ])('attempt %i waits between %i and %i ms (exponential, capped, jittered)', (attempt, low, high) => {
    expect(backoffDelay(config, attempt, () => 0)).toBe(low);
    expect(backoffDelay(config, attempt, () => 0.999999)).toBe(high);
    const sample = backoffDelay(config, attempt);
    expect(sample).toBeGreaterThanOrEqual(low);
    expect(sample).toBeLessThanOrEqual(high);
  });

  it('sleep runs on the injected clock and rejects on abort', async () => {
    const clock = new FakeClock();
    const done = sleep((fn, ms) => clock.schedule(fn, ms), 1_000, new AbortController().signal, () => new Error('aborted'));
    clock.advance(1_000);
    await expect(done).resolves.toBeUndefined();

    const controller = new AbortController();
    const waiting = sleep((fn, ms) => clock.schedule(fn, ms), 1_000, controller.signal, () => new Error('aborted'));
    controller.abort();
    await expect(waiting).rejects.toThrow('aborted');
    expect(clock.pendingTimers).toBe(0);
  });

  it('the idempotency token is stable per CSR, distinct across CSRs, and within the 36-character limit', () => {
    const a = idempotencyToken(new Uint8Array([1, 2, 3]));
    expect(idempotencyToken(new Uint8Array([1, 2, 3]))).toBe(a);
    expect(idempotencyToken(new Uint8Array([1, 2, 4]))).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
  });
});

import { describe, it, expect } from 'vitest';
import { Rotator, type RotatableCa } from '../../src/rotation/rotator.js';
import { prepareAt, activateAt, rotationStep } from '../../src/ca/slots.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';

const HOUR = 3600_000;

describe('rotation thresholds', () => {
  const ca = { notBeforeMs: 0, notAfterMs: 6 * HOUR };
  it('prepares at 1/2 and activates at 5/6 of the lifetime', () => {
    expect(prepareAt(ca)).toBe(3 * HOUR);
    expect(activateAt(ca)).toBe(5 * HOUR);
    expect(rotationStep({ active: ca }, 3 * HOUR - 1)).toBe('none');
    expect(rotationStep({ active: ca }, 3 * HOUR)).toBe('prepare');
    expect(rotationStep({ active: ca, next: ca }, 4 * HOUR)).toBe('none');
    expect(rotationStep({ active: ca, next: ca }, 5 * HOUR)).toBe('activate');
    expect(rotationStep({ active: ca, old: { notBeforeMs: 0, notAfterMs: 1 } }, 2)).toBe('retire-old');
  });
});

describe('Rotator with the real Authority and an injected clock', () => {
  it('prepares, activates and retires on schedule without sleeping', async () => {
    const clock = new FakeClock(Date.now());
    const ca = await createDevAuthority({ clock, intermediateTtlSeconds: 6 * 3600, maxLeafTtlSeconds: 3600, signers: 1 });
    const rotator = new Rotator(ca, { clock, logger: silentLogger() });
    try {
      rotator.start();
      const first = ca.slotLifetimes().active!;
      const settle = () => new Promise((r) => setTimeout(r, 50));
      clock.advance(3 * HOUR + 1000);
      await vi_waitFor(() => ca.slotLifetimes().next !== undefined, settle);
      expect(ca.slotLifetimes().active!.id).toBe(first.id);
      clock.advance(2 * HOUR);
      await settle();
      expect(ca.slotLifetimes().active!.id).not.toBe(first.id);
      expect(ca.slotLifetimes().old!.id).toBe(first.id);
      // At 6h the new active's prepare point and the old one's expiry coincide: both happen.
      clock.advance(HOUR + 1000);
      await vi_waitFor(() => ca.slotLifetimes().next !== undefined, settle);
      clock.advance(0);
      await settle();
      expect(ca.slotLifetimes().old).toBeUndefined();
    } finally {
      rotator.stop();
      await ca.close();
    }
  });

  it('retries a failed prepare with bounded, jittered backoff while the active CA keeps serving', async () => {
    const clock = new FakeClock(0);
    let attempts = 0;
    const ca: RotatableCa = {
      slotLifetimes: () => ({ active: { notBeforeMs: 0, notAfterMs: 10 * HOUR } }),
      prepareNext: async () => {
        attempts++;
        throw new Error('upstream down');
      },
      activateNext: () => undefined,
      retireOld: () => undefined,
    };
    const outcomes: number[] = [];
    const rotator = new Rotator(ca, {
      clock,
      logger: silentLogger(),
      retryBaseMs: 1000,
      retryMaxMs: 8000,
      random: () => 1,
      onOutcome: (step, failures) => {
        expect(step).toBe('prepare');
        outcomes.push(failures);
      },
    });
    rotator.start();
    const flush = () => new Promise((r) => setImmediate(r));
    clock.advance(5 * HOUR);
    await flush();
    expect(attempts).toBe(1);
    // Backoff doubles: 1s, 2s, 4s, then capped at 8s; no storm in between.
    for (const [wait, expected] of [[999, 1], [1, 2], [2000, 3], [4000, 4], [8000, 5], [8000, 6]] as const) {
      clock.advance(wait);
      await flush();
      expect(attempts).toBe(expected);
    }
    // Every failure was reported, counting up, for metrics and alerting.
    expect(outcomes).toEqual([1, 2, 3, 4, 5, 6]);
    rotator.stop();
  });
});

describe('Rotator.stop()', () => {
  it('aborts a prepare in flight and counts no failure', async () => {
    const clock = new FakeClock(0);
    let seen: AbortSignal | undefined;
    const ca: RotatableCa = {
      slotLifetimes: () => ({ active: { notBeforeMs: 0, notAfterMs: 10 * HOUR } }),
      prepareNext: (signal) =>
        new Promise((_resolve, reject) => {
          seen = signal;
          signal?.addEventListener('abort', () => reject(new Error('aborted')));
        }),
      activateNext: () => undefined,
      retireOld: () => undefined,
    };
    const outcomes: number[] = [];
    const rotator = new Rotator(ca, { clock, logger: silentLogger(), onOutcome: (_step, failures) => outcomes.push(failures) });
    rotator.start();
    clock.advance(5 * HOUR);
    expect(seen?.aborted).toBe(false);
    rotator.stop();
    await new Promise((r) => setImmediate(r));
    expect(seen?.aborted).toBe(true);
    expect(outcomes).toEqual([]);
    expect(rotator.status()).toEqual({ consecutiveFailures: 0 });
    expect(clock.pendingTimers).toBe(0);
  });
});

async function vi_waitFor(cond: () => boolean, settle: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await settle();
  expect(cond()).toBe(true);
}

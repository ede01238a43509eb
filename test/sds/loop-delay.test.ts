/**
 * Overload admission: while the main thread's event-loop delay is high, new SDS
 * streams are refused (RESOURCE_EXHAUSTED, reason event-loop-delay) before they
 * cost anything; streams already counted are untouched.
 */
import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { StreamAdmission } from '../../src/sds/admission.js';
import { watchLoopDelay } from '../../src/sds/loop-delay.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('event-loop delay admission', () => {
  it('reports overload after the loop was blocked past the threshold, and clears once it runs freely again', async () => {
    const delay = watchLoopDelay(50);
    try {
      await expect.poll(() => delay.overloaded(), { timeout: 3000 }).toBe(false);
      // Blocked in slices: each window that holds a block reports overload until the next window ends.
      let seen = false;
      for (let i = 0; i < 10 && !seen; i++) {
        block(120);
        await sleep(20);
        seen = delay.overloaded();
      }
      expect(seen).toBe(true);
      await expect.poll(() => delay.overloaded(), { timeout: 3000 }).toBe(false);
    } finally {
      delay.close();
    }
  });

  it('refuses a new stream while overloaded, naming the limit, and admits again after', () => {
    let overloaded = false;
    const admission = new StreamAdmission({ streamsMax: 10, streamsPerAddress: 10, pendingMax: 10, overloaded: () => overloaded });
    admission.open('127.0.0.1');
    overloaded = true;
    let refusal: unknown;
    try {
      admission.open('127.0.0.1');
    } catch (err) {
      refusal = err;
    }
    expect(isWcaError(refusal, 'ERR_SDS_LIMIT') && refusal.details.reason).toBe('event-loop-delay');
    expect((refusal as Error).message).toMatch(/sds\.maxEventLoopDelay/);
    expect(admission.pending).toBe(1);
    overloaded = false;
    admission.open('127.0.0.1');
    expect(admission.pending).toBe(2);
  });
});

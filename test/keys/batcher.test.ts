import { describe, it, expect } from 'vitest';
import { Batcher, batchSizeMax } from '../../src/keys/batcher.js';
import { WcaError, isWcaError } from '../../src/errors.js';

/** A backend that records each call and answers when the test says so. */
function backend() {
  const calls: { items: number[]; answer(results?: (number | Error)[]): void; fail(err: Error): void }[] = [];
  const send = (items: number[]) =>
    new Promise<(number | Error)[]>((resolve, reject) => {
      calls.push({ items, answer: (r) => resolve(r ?? items.map((i) => i * 10)), fail: reject });
    });
  return { calls, send };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('Batcher (coalescing signing calls to a remote key)', () => {
  it('sends up to maxSize items per call at once, and the rest after maxDelayMs', async () => {
    const b = backend();
    const batcher = new Batcher(b.send, { maxSize: 3, maxDelayMs: 10, maxInFlight: 4, timeoutMs: 60_000 });
    const results = [1, 2, 3, 4].map((i) => batcher.submit(i));
    expect(b.calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
    await settle();
    expect(b.calls.map((c) => c.items)).toEqual([[1, 2, 3], [4]]);
    for (const c of b.calls) c.answer();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40]);
  });

  it('keeps at most maxInFlight calls; what waits meanwhile leaves as one larger batch', async () => {
    const b = backend();
    const batcher = new Batcher(b.send, { maxSize: 100, maxDelayMs: 0, maxInFlight: 1, timeoutMs: 60_000 });
    const first = batcher.submit(1);
    await settle();
    const rest = [2, 3, 4].map((i) => batcher.submit(i));
    await settle();
    expect(b.calls).toHaveLength(1);
    b.calls[0]!.answer();
    await first;
    await settle();
    expect(b.calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    b.calls[1]!.answer();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('an item error rejects that item only; a call failure rejects its whole batch; each call is reported', async () => {
    const b = backend();
    const reported: [number, string][] = [];
    const batcher = new Batcher(b.send, { maxSize: 2, maxDelayMs: 0, maxInFlight: 4, timeoutMs: 60_000, onCall: (size, ok) => reported.push([size, ok]) });
    const [a, c] = [batcher.submit(1), batcher.submit(2)];
    await settle();
    b.calls[0]!.answer([10, new WcaError('ERR_UPSTREAM_UNAVAILABLE', 'item failed')]);
    expect(await a).toBe(10);
    await expect(c).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    const [d, e] = [batcher.submit(3), batcher.submit(4)];
    await settle();
    b.calls[1]!.fail(new WcaError('ERR_UPSTREAM_TIMEOUT', 'deadline'));
    await expect(d).rejects.toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT' });
    await expect(e).rejects.toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT' });
    expect(reported).toEqual([
      [2, 'ok'],
      [2, 'error'],
    ]);
  });

  it('refuses an answer with the wrong number of results', async () => {
    const b = backend();
    const batcher = new Batcher(b.send, { maxSize: 2, maxDelayMs: 0, maxInFlight: 4, timeoutMs: 60_000 });
    const both = [batcher.submit(1), batcher.submit(2)];
    await settle();
    b.calls[0]!.answer([10]);
    for (const p of both) expect(isWcaError(await p.catch((e: unknown) => e), 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true);
  });

  it('caps a configured batch size at the hard limit', async () => {
    const b = backend();
    const batcher = new Batcher(b.send, { maxSize: batchSizeMax * 10, maxDelayMs: 5, maxInFlight: 4, timeoutMs: 60_000 });
    void Promise.all(Array.from({ length: batchSizeMax + 1 }, (_, i) => batcher.submit(i))).catch(() => undefined);
    expect(b.calls[0]!.items).toHaveLength(batchSizeMax);
    batcher.close();
  });

  it('close rejects what is still queued with ERR_CA_CLOSED', async () => {
    const b = backend();
    const batcher = new Batcher(b.send, { maxSize: 10, maxDelayMs: 1000, maxInFlight: 4, timeoutMs: 60_000 });
    const queued = batcher.submit(1);
    batcher.close();
    await expect(queued).rejects.toMatchObject({ code: 'ERR_CA_CLOSED' });
    await expect(batcher.submit(2)).rejects.toMatchObject({ code: 'ERR_CA_CLOSED' });
    expect(b.calls).toHaveLength(0);
  });

  it('a call past timeoutMs fails its items with ERR_UPSTREAM_TIMEOUT, aborts its signal and frees its slot, even if send never settles', async () => {
    const signals: AbortSignal[] = [];
    let calls = 0;
    const reported: string[] = [];
    const send = (items: number[], signal: AbortSignal) => {
      signals.push(signal);
      // The first call ignores its signal and never settles (a trickling backend); later ones answer.
      return calls++ === 0 ? new Promise<number[]>(() => {}) : Promise.resolve(items.map((i) => i * 10));
    };
    const batcher = new Batcher(send, { maxSize: 10, maxDelayMs: 0, maxInFlight: 1, timeoutMs: 200, onCall: (_size, outcome) => reported.push(outcome) });
    const stuck = batcher.submit(1);
    await expect(stuck).rejects.toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT' });
    expect(signals[0]!.aborted).toBe(true);
    expect(batcher.failing).toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT' });
    expect(await batcher.submit(2)).toBe(20);
    expect(batcher.failing).toBeUndefined();
    expect(reported).toEqual(['timeout', 'ok']);
  });
});

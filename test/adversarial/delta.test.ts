import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '../../src/limits.js';
import { envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { startHarness, type Harness } from '../sds/harness.js';

/**
 * Issue #8, item 8: one authenticated Delta stream must not be able to grow its
 * subscription without bound, nor make each request cost more than the request
 * itself, nor block the event loop for everyone else.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const node = envoyNode('ns/shop/sa/cart');
const typos = (round: number, count: number = limits.sdsStreamNamesMax) => Array.from({ length: count }, (_, i) => `typo-${round}-${i}`);
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function openDelta(): Promise<XdsStream> {
  const stream = XdsStream.delta(h.client(undefined, { 'grpc.use_local_subchannel_pool': 1 }));
  stream.send({ node, resource_names_subscribe: ['default'], type_url: secretTypeUrl });
  expect((await stream.next()).resources).toHaveLength(1);
  return stream;
}

/** Another caller on a connection of its own still gets its certificate. */
async function stillServing(): Promise<void> {
  const probe = XdsStream.sotw(h.client(undefined, { 'grpc.use_local_subchannel_pool': 1 }));
  probe.send({ node: envoyNode('ns/probe/sa/probe'), resource_names: ['default'], type_url: secretTypeUrl });
  expect((await probe.next()).resources).toHaveLength(1);
  probe.cancel();
}

describe('Delta subscriptions are bounded per stream', () => {
  it('ends a stream subscribing a huge number of names with RESOURCE_EXHAUSTED while the event loop stays responsive', async () => {
    const stream = await openDelta();
    let ended = false;
    void stream.status.then(() => (ended = true));
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    // 1,000 requests of 64 new names each: 64,000 names if nothing stopped them.
    for (let round = 0; round < 1000 && !ended; round++) {
      stream.send({ resource_names_subscribe: typos(round), type_url: secretTypeUrl });
      if (round % 16 === 15) await tick();
    }
    const status = await Promise.race([stream.status, new Promise<undefined>((resolve) => setTimeout(resolve, 5000))]);
    delay.disable();
    expect(status?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status?.details).toContain(`limit ${limits.sdsStreamNamesMax}`);
    // Generous: the box is shared; the unbounded version blocked for seconds to minutes.
    expect(delay.max / 1e6).toBeLessThan(1000);
    await stillServing();
  });

  it('answers every subscription of a name that does not exist, and unsubscribed ones leave nothing behind', async () => {
    const stream = await openDelta();
    // Far more names in all than the cap: each round subscribes a fresh batch and drops the last one.
    const rounds = 40;
    const perRound = limits.sdsStreamNamesMax - 1;
    for (let round = 0; round < rounds; round++) {
      const names = typos(round, perRound);
      stream.send({ resource_names_subscribe: names, resource_names_unsubscribe: round > 0 ? typos(round - 1, perRound) : [], type_url: secretTypeUrl });
      const res = await stream.next();
      expect(res.removed_resources).toEqual(names);
    }
    // Still one stream with its certificate name and room for exactly the cap.
    stream.send({ resource_names_unsubscribe: typos(rounds - 1, perRound), resource_names_subscribe: typos(rounds, perRound), type_url: secretTypeUrl });
    expect((await stream.next()).removed_resources).toHaveLength(perRound);
    stream.send({ resource_names_subscribe: ['one-too-many'], type_url: secretTypeUrl });
    expect((await stream.status).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });
});

import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { startHarness, type Harness } from '../sds/harness.js';
import { connectRaw, openIdleStream, rawTarget, type RawOutcome } from './raw-h2.js';

/**
 * Red team finding 4: streams without a credential were bounded per source
 * address only, so a few addresses (127.0.0.2-4 here: all of 127/8 is loopback on
 * Linux) held tens of thousands of idle streams and their memory. Streams not yet
 * authenticated now have a server-wide cap (sds.maxPendingStreams).
 */

let h: Harness | undefined;
const sessions: http2.ClientHttp2Session[] = [];
afterEach(async () => {
  sessions.splice(0).forEach((s) => s.destroy());
  await h?.close();
  h = undefined;
});

async function idleFrom(localAddress: string, count: number) {
  const session = await connectRaw(rawTarget(h!.server.address, localAddress));
  sessions.push(session);
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  const ended: RawOutcome[] = [];
  for (let i = 0; i < count; i++) void openIdleStream(session).outcome.then((r) => ended.push(r));
  return ended;
}

function envoy(harness: Harness, id: string): XdsStream {
  const stream = XdsStream.sotw(harness.client(undefined, { 'grpc.use_local_subchannel_pool': 1 }));
  stream.send({ node: envoyNode(id), type_url: secretTypeUrl, resource_names: ['default'] });
  return stream;
}

describe('streams not yet authenticated, server-wide', () => {
  it('refuses pending streams past sds.maxPendingStreams from any mix of addresses, without touching authenticated ones', async () => {
    h = await startHarness({ config: { maxPendingStreams: 100, maxStreamsPerAddress: 1_000, firstRequestTimeout: 30 } });
    const served = envoy(h, 'ns/shop/sa/before');
    expect((await served.next()).resources).toHaveLength(1);

    // 3 × 60 idle streams, each address well under its own cap: only 100 in all are held.
    const ended = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((a) => idleFrom(a, 60)));
    const refused = () => ended.flat();
    await expect.poll(() => refused().length, { timeout: 10_000 }).toBe(80);
    for (const outcome of refused()) {
      expect(outcome.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(outcome.grpcMessage).toMatch(/100 SDS streams not yet authenticated \(sds\.maxPendingStreams\)/);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(h.server.streams()).toBe(101);

    // The Envoy authenticated before the flood keeps its stream and its pending slot was given back.
    const status = await Promise.race([served.status, new Promise((r) => setTimeout(() => r('open'), 200))]);
    expect(status).toBe('open');
    served.cancel();

    // Once the idle streams go, a new Envoy gets in again.
    sessions.splice(0).forEach((s) => s.destroy());
    await expect.poll(() => h!.server.streams(), { timeout: 5_000 }).toBe(0);
    const after = envoy(h, 'ns/shop/sa/after');
    expect((await after.next()).resources).toHaveLength(1);
    after.cancel();
  });
});

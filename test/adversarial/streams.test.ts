import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { startHarness, type Harness } from '../sds/harness.js';
import { connectRaw, openIdleStream, rawTarget, type RawOutcome } from './raw-h2.js';

/**
 * Issue #8 item 6: callers with no credential open streams and never send a
 * request. Attackers connect from 127.0.0.2 and 127.0.0.3 (all of 127/8 is
 * loopback on Linux), the legitimate Envoy from 127.0.0.1, so per-address caps
 * can be told apart on one machine. Raw node:http2 clients, so no gRPC library
 * politely limits what the attacker sends.
 */

const REFUSED_STREAM = 7; // HTTP/2 error code

let h: Harness | undefined;
const sessions: http2.ClientHttp2Session[] = [];
afterEach(async () => {
  sessions.splice(0).forEach((s) => s.destroy());
  await h?.close();
  h = undefined;
});

async function attacker(localAddress: string): Promise<http2.ClientHttp2Session> {
  const session = await connectRaw(rawTarget(h!.server.address, localAddress));
  sessions.push(session);
  return session;
}

/** Opens `count` idle streams on `session`; `ended` fills as they end (with a status or a reset). */
async function idleStreams(session: http2.ClientHttp2Session, count: number) {
  const opened = Array.from({ length: count }, () => openIdleStream(session));
  const outcomes = opened.map((o) => o.outcome);
  const ended: RawOutcome[] = [];
  outcomes.forEach((o) => void o.then((r) => ended.push(r)));
  return { streams: opened.map((o) => o.stream), outcomes, ended };
}

/** The legitimate Envoy: dev profile, identity from node.id, over grpc-js from 127.0.0.1. Resolves with how long its certificate took. */
async function legitimateEnvoyServed(harness: Harness, id: string): Promise<{ ms: number; stream: XdsStream }> {
  const started = Date.now();
  const stream = XdsStream.sotw(harness.client(undefined, { 'grpc.use_local_subchannel_pool': 1 }));
  stream.send({ node: envoyNode(id), type_url: secretTypeUrl, resource_names: ['default'] });
  const response = await stream.next();
  expect(response.resources).toHaveLength(1);
  return { ms: Date.now() - started, stream };
}

describe('unauthenticated stream exhaustion', () => {
  it('caps streams per HTTP/2 connection: the excess is refused by HTTP/2 (REFUSED_STREAM) or held back by the client', async () => {
    h = await startHarness({ config: { maxStreamsPerConnection: 20, firstRequestTimeout: 30 } });
    const session = await attacker('127.0.0.2');
    const { streams, ended } = await idleStreams(session, 60);
    await expect.poll(() => h!.server.streams(), { timeout: 5_000 }).toBe(20);
    expect(session.remoteSettings.maxConcurrentStreams).toBe(20);
    // Sent before our SETTINGS arrived: nghttp2 resets them; after: node's client queues them unsent.
    const unsent = () => streams.filter((s) => s.id === undefined).length;
    await expect.poll(() => ended.length + unsent(), { timeout: 5_000 }).toBe(40);
    for (const refused of ended) expect(refused).toEqual({ rstCode: REFUSED_STREAM });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.server.streams()).toBe(20);
  });

  it('caps streams per peer address across connections with RESOURCE_EXHAUSTED naming the limit, while 127.0.0.1 is served promptly', async () => {
    h = await startHarness({ config: { maxStreamsPerConnection: 100, maxStreamsPerAddress: 150, firstRequestTimeout: 30 } });
    const results = await Promise.all(
      [0, 1, 2].map(async () => {
        const session = await attacker('127.0.0.2');
        await new Promise((resolve) => session.once('remoteSettings', resolve));
        return idleStreams(session, 100);
      }),
    );
    const ended = () => results.flatMap((r) => r.ended);
    await expect.poll(() => ended().length, { timeout: 10_000 }).toBe(150);
    for (const refused of ended()) {
      expect(refused.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.grpcMessage).toMatch(/127\.0\.0\.2 already holds 150 SDS streams \(sds\.maxStreamsPerAddress\)/);
    }
    expect(h.server.streams()).toBe(150);

    // Another attacking address has its own allowance, and the legitimate Envoy its own.
    const other = await attacker('127.0.0.3');
    const third = await idleStreams(other, 10);
    await expect.poll(() => h!.server.streams(), { timeout: 5_000 }).toBe(160);
    expect(third.ended).toHaveLength(0);
    const { ms, stream } = await legitimateEnvoyServed(h, 'ns/shop/sa/cart');
    expect(ms).toBeLessThan(5_000);
    stream.cancel();
  });

  it('ends a stream that sends no request within sds.firstRequestTimeout with DEADLINE_EXCEEDED, and keeps a stream that did', async () => {
    h = await startHarness({ config: { firstRequestTimeout: '500ms' } });
    const { stream: served } = await legitimateEnvoyServed(h, 'ns/shop/sa/early');
    const session = await attacker('127.0.0.2');
    const opened = Date.now();
    const { outcomes } = await idleStreams(session, 50);
    await expect.poll(() => h!.server.streams(), { timeout: 5_000 }).toBe(51);
    const results = await Promise.all(outcomes);
    const tookMs = Date.now() - opened;
    for (const result of results) {
      expect(result.grpcStatus).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(result.grpcMessage).toMatch(/sds\.firstRequestTimeout/);
    }
    expect(tookMs).toBeGreaterThanOrEqual(450);
    expect(tookMs).toBeLessThan(10_000);
    // Only the idle ones ended: the stream that asked keeps its subscription.
    expect(h.server.streams()).toBe(1);
    const status = await Promise.race([served.status, new Promise((r) => setTimeout(() => r('open'), 200))]);
    expect(status).toBe('open');
    served.cancel();
  });

  it('counts only authenticated streams toward the server-wide limit', async () => {
    h = await startHarness({ config: { maxStreams: 5, firstRequestTimeout: 30 } });
    // 200 idle streams from two addresses: far more than the server-wide limit of 5.
    for (const address of ['127.0.0.2', '127.0.0.3']) await idleStreams(await attacker(address), 100);
    await expect.poll(() => h!.server.streams(), { timeout: 5_000 }).toBe(200);

    const served = [];
    for (let i = 0; i < 5; i++) {
      const { ms, stream } = await legitimateEnvoyServed(h, `ns/shop/sa/envoy-${i}`);
      expect(ms).toBeLessThan(5_000);
      served.push(stream);
    }
    // The sixth authenticated stream is over the limit, whatever the idle ones do.
    const sixth = XdsStream.sotw(h.client());
    sixth.send({ node: envoyNode('ns/shop/sa/envoy-6'), type_url: secretTypeUrl, resource_names: ['default'] });
    const status = await sixth.status;
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toMatch(/5 authenticated SDS streams \(sds\.maxStreams\)/);
    served.forEach((s) => s.cancel());
  });
});

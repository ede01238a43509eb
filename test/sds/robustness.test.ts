import { connect as netConnect, createServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '../../src/limits.js';
import { envoyNode, SdsClient, secretTypeUrl, XdsStream } from './envoy-client.js';
import { counterValue, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/**
 * Proves the server still serves everyone else: a fresh stream on a connection of
 * its own gets its certificate. Its own, because a client that resets ~1,000
 * streams in a burst may rightly be sent away itself (nghttp2's rapid-reset
 * limit, CVE-2023-44487, answers with GOAWAY), and grpc-js channels to the same
 * address otherwise share one connection.
 */
async function stillServing(): Promise<void> {
  const stream = XdsStream.sotw(h.client(undefined, { 'grpc.use_local_subchannel_pool': 1 }));
  stream.send({ node: envoyNode('ns/probe/sa/probe'), resource_names: ['default'], type_url: secretTypeUrl });
  const res = await stream.next();
  expect(res.resources).toHaveLength(1);
  stream.cancel();
}

async function statusOf(request: Record<string, unknown>) {
  const stream = XdsStream.sotw(h.client());
  stream.send(request);
  return stream.status;
}

const node = envoyNode('ns/shop/sa/cart');

function hostPort(address: string) {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** A TCP relay whose connections a test can cut abruptly, as a crashing peer would. */
async function startProxy(target: string) {
  const { host, port } = hostPort(target);
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = netConnect({ host, port });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${proxyPort}`,
    cutAll: () => sockets.forEach((s) => s.resetAndDestroy()),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('bad input ends only the offending stream, with a clear status', () => {
  it.each([
    { what: 'a wrong type_url', request: { node, resource_names: ['default'], type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' }, code: grpc.status.INVALID_ARGUMENT, says: 'type_url' },
    { what: 'too many names', request: { node, resource_names: Array.from({ length: limits.sdsResourceNamesMax + 1 }, (_, i) => `n${i}`) }, code: grpc.status.INVALID_ARGUMENT, says: 'limit' },
    { what: 'thousands of names', request: { node, resource_names: Array.from({ length: 5000 }, (_, i) => `name-${i}`) }, code: grpc.status.INVALID_ARGUMENT, says: 'resource_names' },
    { what: 'a very long name', request: { node, resource_names: ['x'.repeat(limits.sdsResourceNameMaxBytes + 1)] }, code: grpc.status.INVALID_ARGUMENT, says: 'longer than' },
    { what: 'an empty name', request: { node, resource_names: [''] }, code: grpc.status.INVALID_ARGUMENT, says: 'empty' },
    { what: 'a message over the size limit', request: { node, resource_names: Array.from({ length: 20_000 }, (_, i) => `name-${i}`) }, code: grpc.status.RESOURCE_EXHAUSTED, says: '' },
    { what: 'a node.id that is not a SPIFFE path', request: { node: envoyNode('ns/../etc'), resource_names: ['default'] }, code: grpc.status.INVALID_ARGUMENT, says: 'node.id' },
    { what: 'a node.id in another trust domain', request: { node: envoyNode('spiffe://evil.example/x'), resource_names: ['default'] }, code: grpc.status.PERMISSION_DENIED, says: 'evil.example' },
    { what: 'no node at all', request: { resource_names: ['default'] }, code: grpc.status.UNAUTHENTICATED, says: 'no credential' },
    { what: 'someone else’s SPIFFE ID', request: { node, resource_names: ['spiffe://cluster.local/ns/bank/sa/vault'] }, code: grpc.status.PERMISSION_DENIED, says: 'ns/bank/sa/vault' },
  ])('$what', async ({ request, code, says }) => {
    const status = await statusOf(request);
    expect(status.code).toBe(code);
    expect(status.details).toContain(says);
    // Counted under the status's name, as dashboards read it.
    if (code !== grpc.status.RESOURCE_EXHAUSTED) expect(await counterValue(h.metrics.sdsRejected, { code: grpc.status[code] })).toBeGreaterThan(0);
    await stillServing();
  });

  it('answers garbage bytes in a gRPC frame with INVALID_ARGUMENT', async () => {
    const Raw = grpc.makeGenericClientConstructor(
      {
        StreamSecrets: {
          path: '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets',
          requestStream: true,
          responseStream: true,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'Raw',
    );
    const raw = new Raw(h.server.address, grpc.credentials.createInsecure());
    const stream = new XdsStream((raw as any).StreamSecrets());
    stream.send(Buffer.from([0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x01]) as any);
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain('not a valid DiscoveryRequest');
    raw.close();
    await stillServing();
  });

  it('survives non-HTTP/2 garbage on the socket', async () => {
    const { host, port } = hostPort(h.server.address);
    await new Promise<void>((resolve, reject) => {
      const socket = netConnect({ host, port }, () =>
        socket.write(Buffer.alloc(4096, 0xab), () => {
          socket.destroy();
          resolve();
        }),
      );
      socket.on('error', reject);
    });
    await stillServing();
  });
});

describe('clients that go away', () => {
  it('keeps serving when clients vanish in the middle of a push', async () => {
    const proxy = await startProxy(h.server.address);
    const victims = Array.from({ length: 50 }, (_, i) => {
      const client = new SdsClient(proxy.address, grpc.credentials.createInsecure()) as grpc.Client;
      const stream = XdsStream.sotw(client);
      stream.send({ node: envoyNode(`ns/gone/sa/w${i}`), resource_names: ['default', 'ROOTCA'], type_url: secretTypeUrl });
      return { client, stream };
    });
    await Promise.all(victims.map((v) => v.stream.next()));
    const rotation = h.rotate();
    proxy.cutAll(); // connections die without any HTTP/2 goodbye while the re-issue push is under way
    await rotation;
    await stillServing();
    victims.forEach((v) => v.client.close());
    await proxy.close();
    await expect.poll(() => h.server.streams(), { timeout: 20_000 }).toBe(0);
  });

  it('keeps serving after 1,000 streams are opened and dropped', async () => {
    const clients = Array.from({ length: 10 }, () => new SdsClient(h.server.address, grpc.credentials.createInsecure()) as grpc.Client);
    const streams = Array.from({ length: 1000 }, (_, i) => {
      const stream = XdsStream.sotw(clients[i % clients.length]!);
      stream.send({ node: envoyNode(`ns/churn/sa/w${i % 100}`), resource_names: ['default'], type_url: secretTypeUrl });
      return stream;
    });
    await Promise.all(streams.slice(0, 100).map((s) => s.next()));
    streams.forEach((s) => s.cancel());
    await stillServing();
    await expect.poll(() => h.server.streams(), { timeout: 20_000 }).toBe(0);
    clients.forEach((c) => c.close());
  });
});

/**
 * Issue #13: clients that close (FIN) right after their TLS handshake, their HTTP/2
 * request sent but not yet read by the server, left the TLS listener a descriptor
 * each (3-25 per 300-600 in the churn soak). Node 20's TLSWrap keeps a write marked
 * "in progress" after the TCP write fails with EPIPE, so the http2 session waits for
 * it forever, stops reading and never sees the FIN (transport/keepalive.ts). The
 * listener now closes connections that receive nothing for a PING interval plus its
 * timeout while the gRPC server PINGs every connection.
 *
 * Real TLS, real HTTP/2 (grpc-js server, node:http2 client), real sockets; counted in
 * the kernel's tables and this process's descriptors.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/telemetry/logger.js';
import { keepaliveServerOptions } from '../../src/transport/keepalive.js';
import { listenTls, type TlsListener } from '../../src/transport/tls-listener.js';
import { OpensslWorkbench, type OpensslCert } from '../helpers/openssl-ca.js';
import { hasTools } from '../helpers/tools.js';
import { socketDescriptorsOfPort, tcpSocketsOnPort } from '../helpers/sockets.js';

const VANISHING = 200;
/** PINGs twice as often as before (a silent peer goes after 1.5 s, not 2 s); the PING timeout, which a live peer in this busy process must meet, stays 1 s. */
const KEEPALIVE = { intervalMs: 500, timeoutMs: 1000 };
/** Well past interval + timeout and a sweep, with room for a loaded box. */
const RECLAIMED_WITHIN_MS = 8000;
const path = '/wca.test.Echo/Echo';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** gRPC's length-prefixed message. */
const grpcMessage = (body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
/** One HTTP/2 frame (RFC 9113 §4.1). */
function h2Frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}
/** HPACK "literal header field without indexing, new name" (RFC 7541 §6.2.2), short strings only. */
const literal = (name: string, value: string) => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
/** What an HTTP/2 client sends first: preface, SETTINGS, and a call with one message (END_HEADERS, stream 1). */
const request = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  h2Frame(0x4, 0, 0, Buffer.alloc(0)),
  h2Frame(0x1, 0x4, 1, Buffer.concat([literal(':method', 'POST'), literal(':scheme', 'https'), literal(':path', path), literal(':authority', 'wca.test'), literal('content-type', 'application/grpc'), literal('te', 'trailers')])),
  h2Frame(0x0, 0, 1, grpcMessage(Buffer.from('hello'))),
]);

let bench: OpensslWorkbench;
let root: OpensslCert;
let server: grpc.Server;
let listener: TlsListener;

// The server's certificate comes from the OpenSSL CLI, as in the other listener suites.
const haveOpenssl = hasTools('openssl');

beforeAll(async () => {
  if (!haveOpenssl) return;
  bench = await OpensslWorkbench.open();
  root = await bench.root('/CN=vanishing-peers root');
  const leaf = await bench.issue(root, '/CN=server', 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  server = new grpc.Server(keepaliveServerOptions(KEEPALIVE));
  const bytes = (b: Buffer) => b;
  server.addService(
    { echo: { path, requestStream: true, responseStream: true, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes } },
    { echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => (call.on('error', () => undefined), call.on('data', (m: Buffer) => call.write(m))) },
  );
  listener = await listenTls({
    grpcServer: server,
    host: '127.0.0.1',
    port: 0,
    feed: {
      watchCertificate: (emit) => (emit({ chainPem: leaf.certPem, privateKeyPem: leaf.keyPem }), () => undefined),
      watchTrust: (emit) => (emit({ rootsPem: root.certPem, intermediatesPem: [] }), () => undefined),
    },
    requestClientCertificate: false,
    connections: { handshakeTimeoutMs: 5000, perAddress: 4 * VANISHING, max: 4 * VANISHING, keepalive: KEEPALIVE },
    logger: silentLogger(),
  });
}, 30_000);

afterAll(async () => {
  await listener?.close();
  server?.forceShutdown();
  await bench?.close();
});

/**
 * One client that finishes its handshake, then sends its request and closes (FIN)
 * while the server is still inside the read that completed the handshake: the server
 * then writes its session ticket (the closed client answers RST), fails its SETTINGS
 * with EPIPE, and finds the request still unread. Across processes this happens by
 * chance (a few per hundred in the churn soak); in one process only a hook at the
 * server's 'secureConnection' (a spy on tls.Server's emit: the one fake here, for
 * timing the real thing cannot be made to repeat) puts the FIN in that window.
 */
function vanishAfterHandshake(): Promise<void> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(listener.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const client = tls.connect({ socket: raw, ALPNProtocols: ['h2'], ca: root.certPem, servername: 'wca.test', checkServerIdentity: () => undefined });
    client.on('error', () => undefined);
    client.resume();
    const original = tls.Server.prototype.emit;
    const emit = vi.spyOn(tls.Server.prototype, 'emit').mockImplementation(function (this: tls.Server, event: string | symbol, ...args: unknown[]) {
      if (event === 'secureConnection') {
        emit.mockRestore();
        client.write(request);
        raw.destroy();
      }
      return original.apply(this, [event, ...args] as Parameters<typeof original>);
    });
    raw.once('close', () => resolve());
    setTimeout(() => (emit.mockRestore(), reject(new Error('no handshake within 10 s'))), 10_000).unref();
  });
}

/** A live HTTP/2 peer with one call open, quiet after its first answer; node:http2 answers PINGs by itself. */
async function quietCall(): Promise<{ echo: () => Promise<Buffer>; session: http2.ClientHttp2Session; quietSince: number }> {
  const session = http2.connect(`https://127.0.0.1:${listener.port}`, { ca: root.certPem, servername: 'wca.test', checkServerIdentity: () => undefined });
  session.on('error', () => undefined);
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
  stream.on('error', () => undefined);
  const echo = () =>
    new Promise<Buffer>((resolve, reject) => {
      stream.once('data', (chunk: Buffer) => resolve(chunk.subarray(5)));
      stream.once('close', () => reject(new Error(`call closed (${stream.rstCode})`)));
      stream.write(grpcMessage(Buffer.from('ping')));
    });
  expect((await echo()).toString()).toBe('ping');
  return { echo, session, quietSince: performance.now() };
}

describe.runIf(haveOpenssl)('TLS listener: peers that vanish right after the handshake', () => {
  it(`keeps no descriptor of ${VANISHING} clients that close (FIN) with their request unread, and keeps a quiet live call`, async () => {
    const baseline = socketDescriptorsOfPort(listener.port);
    const live = await quietCall();
    for (let i = 0; i < VANISHING; i++) await vanishAfterHandshake();
    // The wedge is real: right after the churn most of those connections are still held. Should this fail on a
    // later Node, that Node lets them go by itself; the watch then only bounds peers that vanish silently.
    expect(listener.connections()).toBeGreaterThan(1);

    const started = performance.now();
    while (listener.connections() > 1 && performance.now() - started < RECLAIMED_WITHIN_MS) await sleep(100);
    expect(listener.connections()).toBe(1);
    // Every descriptor of theirs is closed, not only uncounted: the live call's is the only one left.
    expect(socketDescriptorsOfPort(listener.port) - baseline).toBe(1);
    expect(tcpSocketsOnPort(listener.port)).toBe(1);

    // The live call, quiet for longer than a PING interval and its timeout and a sweep, is kept by its PING answers.
    await sleep(live.quietSince + 2 * (KEEPALIVE.intervalMs + KEEPALIVE.timeoutMs) - performance.now());
    expect(listener.connections()).toBe(1);
    expect((await live.echo()).toString()).toBe('ping');
    live.session.destroy();
  }, 30_000);
});

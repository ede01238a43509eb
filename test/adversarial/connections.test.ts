/**
 * Issue #8, item 7: what unauthenticated peers can make the SDS TLS listener hold.
 * Real sockets against the real app (SDS over mTLS, admin socket), descriptors
 * counted in /proc/self/fd (client and server ends both live in this process).
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/admin/client.js';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { limits } from '../../src/limits.js';
import { openFilesLimit, sdsConnectionBudget } from '../../src/transport/fd-budget.js';
import { SdsTestClient } from '../identity/sds-client.js';

const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';
const HANDSHAKE_TIMEOUT_MS = 1000;
/** Far below the handshake timeout: the deadline for closes that happen at the accept. */
const AT_ONCE_MS = 300;
/** After the expected number of at-once closes, how long one more (a cap closing too many) has to show. */
const SETTLE_MS = 100;
const IDLE_TIMEOUT_MS = 1000;
const PER_ADDRESS = 8;
const MAX = 40;

const openFds = () => fs.readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The descriptor count once closes in flight (a previous test's sockets, gRPC channels) have landed. */
async function settledFds(): Promise<number> {
  let last = openFds();
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const now = openFds();
    if (now === last) return now;
    last = now;
  }
  return last;
}

async function release(sockets: net.Socket[]): Promise<void> {
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : (s.once('close', () => resolve()), s.destroy())))));
}

let app: App;
let dir: string;
let port: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-conn-'));
  fs.writeFileSync(
    path.join(dir, 'workload-ca.yaml'),
    [
      'profile: dev',
      `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
      `sds: { transport: mtls, connections: { handshakeTimeout: ${HANDSHAKE_TIMEOUT_MS / 1000}s, idleTimeout: ${IDLE_TIMEOUT_MS / 1000}s, perAddress: ${PER_ADDRESS}, max: ${MAX} } }`,
      '',
    ].join('\n'),
  );
  app = await startApp(loadConfig({ file: path.join(dir, 'workload-ca.yaml'), env: {} }), { logger: silentLogger(), env: {} });
  port = Number(app.addresses.sds!.split(':').pop());
});

afterAll(async () => {
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A TCP connection that never starts its TLS handshake; resolves once connected. */
function halfOpen(localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    // Flowing, so the server's FIN is seen.
    socket.resume();
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** True once the server has closed the socket (or it errored). */
const closedByServer = (socket: net.Socket) => new Promise<void>((resolve) => {
  if (socket.destroyed || socket.readableEnded) return resolve();
  socket.once('close', () => resolve());
  socket.once('end', () => resolve());
  socket.once('error', () => resolve());
});

/**
 * Which of `sockets` the server closed at once: waits until `count` of them are closed
 * (AT_ONCE_MS at most, the failure deadline), then SETTLE_MS more, so a cap closing more
 * than it should shows as more than `count`. The caps close at the accept, so every
 * at-once close lands together.
 */
async function closedAtOnce(sockets: net.Socket[], count: number): Promise<boolean[]> {
  const closed = sockets.map(() => false);
  sockets.forEach((s, i) => void closedByServer(s).then(() => (closed[i] = true)));
  const deadline = Date.now() + AT_ONCE_MS;
  while (closed.filter(Boolean).length < count && Date.now() < deadline) await sleep(10);
  await sleep(SETTLE_MS);
  return [...closed];
}

async function legitimateClientIsServed(): Promise<void> {
  const client = new SdsTestClient(app.addresses.sds!, app.authority.bundle().pem, SERVER_ID);
  try {
    expect((await client.fetch('default', undefined, 'ns/shop/sa/cart')).spiffeIds).toEqual(['spiffe://cluster.local/ns/shop/sa/cart']);
  } finally {
    client.close();
  }
}

async function adminAnswers(): Promise<void> {
  const admin = connectAdmin(`${dir}/admin.sock`, { timeoutMs: 5000 });
  try {
    expect((await admin.createJoinToken({ spiffe_id: 'spiffe://cluster.local/vm/probe', dns_names: [], ttl_seconds: 60 })).token).toMatch(/^wcajt_/);
  } finally {
    admin.close();
  }
}

describe('SDS TLS listener under half-open connections', () => {
  it('keeps at most perAddress connections of one address, and drops the rest at once', async () => {
    const before = await settledFds();
    const sockets = await Promise.all(Array.from({ length: 3 * PER_ADDRESS }, () => halfOpen('127.0.0.2')));
    const closed = await closedAtOnce(sockets, 2 * PER_ADDRESS);
    expect(closed.filter(Boolean)).toHaveLength(2 * PER_ADDRESS);
    sockets.filter((_, i) => closed[i]).forEach((s) => s.destroy());
    await sleep(50);
    // Both ends of each held connection live in this process.
    expect(openFds() - before).toBeLessThanOrEqual(2 * PER_ADDRESS + 4);
    // Another client and the admin socket are answered meanwhile.
    await legitimateClientIsServed();
    await adminAnswers();
    await release(sockets);
  });

  it('drops connections whose handshake has not finished within the handshake timeout', async () => {
    const before = await settledFds();
    const sockets = await Promise.all(Array.from({ length: PER_ADDRESS }, () => halfOpen('127.0.0.3')));
    await sleep(100);
    expect(openFds() - before).toBeGreaterThanOrEqual(2 * PER_ADDRESS);
    const started = Date.now();
    await Promise.race([Promise.all(sockets.map(closedByServer)), sleep(HANDSHAKE_TIMEOUT_MS + 5000)]);
    expect(sockets.every((s) => s.readableEnded || s.destroyed)).toBe(true);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 200);
    expect(waited).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 5000);
    await release(sockets);
    expect((await settledFds()) - before).toBeLessThanOrEqual(4);
  });

  it('holds at most `max` connections in all, whatever the number of addresses, and the admin socket still answers', async () => {
    const before = await settledFds();
    const addresses = Array.from({ length: 12 }, (_, i) => `127.0.1.${i + 1}`);
    const sockets = (await Promise.all(addresses.map((a) => Promise.all(Array.from({ length: PER_ADDRESS }, () => halfOpen(a)))))).flat();
    await closedAtOnce(sockets, sockets.length - MAX);
    const open = sockets.filter((s) => !s.destroyed && !s.readableEnded);
    sockets.filter((s) => !open.includes(s)).forEach((s) => s.destroy());
    await sleep(50);
    const held = openFds() - before - open.length;
    expect(held).toBeLessThanOrEqual(MAX + 4);
    await adminAnswers();
    // Once the handshake timeout clears them, a legitimate client gets in again.
    await Promise.race([Promise.all(sockets.map(closedByServer)), sleep(HANDSHAKE_TIMEOUT_MS + 5000)]);
    await release(sockets);
    await legitimateClientIsServed();
  });

  it('closes a connection that completed TLS but opened no stream after the idle timeout', async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: app.authority.bundle().pem, checkServerIdentity: () => undefined });
    session.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    const started = Date.now();
    await Promise.race([new Promise<void>((resolve) => session.once('close', () => resolve())), sleep(8000)]);
    expect(session.closed).toBe(true);
    // Not before (most of) the idle timeout.
    expect(Date.now() - started).toBeGreaterThanOrEqual(0.75 * IDLE_TIMEOUT_MS);
    session.destroy();
  }, 15_000);
});

describe('descriptor budget', () => {
  it('leaves limits.fdReserve descriptors, and room for the HTTP listener, free of SDS connections', () => {
    const file = path.join(dir, 'limits');
    fs.writeFileSync(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n');
    expect(openFilesLimit(file)).toBe(1024);
    expect(sdsConnectionBudget(1024)).toBe(1024 - limits.fdReserve - limits.httpConnectionsMax);
    expect(sdsConnectionBudget(10_000_000)).toBe(limits.sdsConnectionsMax);
    expect(openFilesLimit(path.join(dir, 'missing'))).toBeUndefined();
    expect(sdsConnectionBudget(undefined)).toBe(limits.sdsConnectionsMax);
  });
});

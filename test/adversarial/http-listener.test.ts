/**
 * Red-team finding: the health/metrics port had no connection cap and Node's default
 * timeouts, so idle and slow-header connections exhausted the descriptors SDS and the
 * admin socket need, and a /metrics flood slowed issuance. Real sockets against the
 * real app; the server's sockets counted in the kernel's TCP table.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { limits } from '../../src/limits.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { openFilesLimit, sdsConnectionBudget } from '../../src/transport/fd-budget.js';
import { connect, decodeSecret, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { tcpSocketsOnPort } from '../helpers/sockets.js';

const MAX = 12;
const PER_ADDRESS = 4;
/**
 * Far above what opening the connections, seeing the at-once closes and one request take on a
 * loaded box (a few hundred ms), so a close before it is the cap's, not the timeout's.
 */
const TIMEOUT_MS = 2000;
/** Long enough for a loaded box to deliver a close, below the timeout: the deadline for the at-once closes. */
const AT_ONCE_MS = 1200;
/** After the expected number of at-once closes, how long one more (a cap closing too many) has to show. */
const SETTLE_MS = 150;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let app: App;
let dir: string;
let httpPort: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-http-'));
  const file = path.join(dir, 'workload-ca.yaml');
  fs.writeFileSync(
    file,
    [
      'profile: dev',
      `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
      `http: { maxConnections: ${MAX}, perAddress: ${PER_ADDRESS}, timeout: ${TIMEOUT_MS / 1000}s }`,
      '',
    ].join('\n'),
  );
  app = await startApp(loadConfig({ file, env: {} }), { logger: silentLogger(), env: {} });
  httpPort = Number(app.addresses.http!.split(':').pop());
});

afterAll(async () => {
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A connected TCP socket to the HTTP port from `localAddress`, with the time the server closed it (if it did). */
function open(localAddress: string): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: httpPort, localAddress });
    // Flowing, so the server's FIN is seen.
    socket.resume();
    const closed = new Promise<number>((done) => {
      const at = () => done(performance.now());
      socket.once('end', at);
      socket.once('close', at);
      socket.once('error', at);
    });
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

const within = (closed: Promise<number>, ms: number) => Promise.race([closed.then(() => true), sleep(ms).then(() => false)]);

/**
 * Which of `held` the server closed at once: waits until `count` of them are closed (AT_ONCE_MS
 * at most, the failure deadline), then SETTLE_MS more, so a cap closing more than it should shows
 * as more than `count`. The caps close at the accept, so every at-once close lands together.
 */
async function closedAtOnce(held: { closed: Promise<number> }[], count: number): Promise<boolean[]> {
  const closed = held.map(() => false);
  held.forEach((c, i) => void c.closed.then(() => (closed[i] = true)));
  const deadline = performance.now() + AT_ONCE_MS;
  while (closed.filter(Boolean).length < count && performance.now() < deadline) await sleep(10);
  await sleep(SETTLE_MS);
  return [...closed];
}

/** One GET on its own connection (no pool), so the per-address count is what the test opened. */
function get(urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: httpPort, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

async function sdsAnswers(): Promise<void> {
  const client = connect(app.addresses.sds!);
  try {
    const stream = XdsStream.sotw(client);
    stream.send({ node: envoyNode('ns/shop/sa/cart'), type_url: secretTypeUrl, resource_names: ['default'] });
    expect(decodeSecret((await stream.next()).resources[0]).name).toBe('default');
    stream.cancel();
  } finally {
    client.close();
  }
}

describe('health/metrics listener under idle and slow connections', () => {
  it('keeps at most perAddress idle connections of one address, closes the rest at once, and still answers /readyz and SDS', async () => {
    const held = await Promise.all(Array.from({ length: 5 * PER_ADDRESS }, () => open('127.0.0.2')));
    const closed = await closedAtOnce(held, 4 * PER_ADDRESS);
    expect(closed.filter(Boolean)).toHaveLength(4 * PER_ADDRESS);
    held.filter((_, i) => closed[i]).forEach((c) => c.socket.destroy());
    await sleep(50);
    expect(tcpSocketsOnPort(httpPort)).toBe(PER_ADDRESS);

    expect(await get('/readyz')).toEqual({ status: 200, body: 'ready\n' });
    await sdsAnswers();
    held.forEach((c) => c.socket.destroy());
  });

  it('holds at most maxConnections from many addresses, makes room for a real request, and cuts idle ones after the timeout', async () => {
    const started = performance.now();
    const held = await Promise.all(Array.from({ length: 3 * MAX }, (_, i) => open(`127.0.1.${1 + i}`)));
    const closed = await closedAtOnce(held, 2 * MAX);
    expect(closed.filter((c) => !c)).toHaveLength(MAX);
    held.filter((_, i) => closed[i]).forEach((c) => c.socket.destroy());
    await sleep(50);
    expect(tcpSocketsOnPort(httpPort)).toBe(MAX);
    // Every slot is held by a connection doing nothing: the oldest of them makes room.
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ready\n' });
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
    // The held ones sent nothing: each is closed by the server within the timeout (plus Node's 1 s check).
    const closedAt = await Promise.all(held.map((c) => Promise.race([c.closed, sleep(TIMEOUT_MS + 4000).then(() => Number.NaN)])));
    for (const at of closedAt) expect(at - started).toBeLessThan(TIMEOUT_MS + 3000);
    // And the port serves again.
    expect((await get('/healthz')).status).toBe(200);
  });

  it('cuts a request whose headers never finish, one trickling a byte at a time, and an idle keep-alive', async () => {
    const partial = await open('127.0.0.3');
    partial.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const trickle = await open('127.0.0.3');
    trickle.socket.write('GET /healthz HTTP/1.1\r\n');
    const drip = setInterval(() => trickle.socket.write('X'), 300);
    const keepAlive = await open('127.0.0.3');
    keepAlive.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    try {
      // Node's defaults held these 60 s (headers), 300 s (request) or until the peer left.
      const cut = await Promise.all([partial, trickle, keepAlive].map((c) => within(c.closed, TIMEOUT_MS + 3000)));
      expect(cut).toEqual([true, true, true]);
    } finally {
      clearInterval(drip);
      [partial, trickle, keepAlive].forEach((c) => c.socket.destroy());
    }
  });
});

describe('a /metrics flood', () => {
  it('is answered from one rendering per second', async () => {
    const render = vi.spyOn(app.metrics.registry, 'metrics');
    try {
      // No rendering is cached yet (nothing here scraped /metrics before), and one cached from before
      // `started` would only lower the count: the bound below holds from the first scrape on.
      const started = performance.now();
      // The flood the red team sent, scaled down to fit one address's cap.
      const answers = await Promise.all(
        Array.from({ length: PER_ADDRESS - 1 }, async () => {
          const statuses: number[] = [];
          for (let i = 0; i < 10; i++) statuses.push((await get('/metrics')).status);
          return statuses;
        }),
      );
      expect(answers.flat().every((status) => status === 200)).toBe(true);
      // 30 scrapes; at most one rendering per cache period started (whatever the box's load made the elapsed time).
      expect(render.mock.calls.length).toBeLessThanOrEqual(1 + Math.floor((performance.now() - started) / limits.metricsCacheMs));
      const body = (await get('/metrics')).body;
      expect(body).toMatch(/^# HELP /m);
    } finally {
      render.mockRestore();
    }
  });
});

describe('descriptor budget', () => {
  it('SDS leaves room for the reserve and the most the HTTP listener may hold', () => {
    expect(sdsConnectionBudget(1200)).toBe(1200 - limits.fdReserve - limits.httpConnectionsMax);
    const fdLimit = openFilesLimit();
    if (fdLimit !== undefined && fdLimit < limits.sdsConnectionsMax) {
      expect(sdsConnectionBudget(fdLimit) + limits.httpConnectionsMax + limits.fdReserve).toBeLessThanOrEqual(fdLimit);
    }
  });
});

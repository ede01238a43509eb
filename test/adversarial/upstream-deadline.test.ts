/**
 * Issue #8, item 10: an upstream that never answers must not freeze rotation
 * silently. The plugin is a test fake (test/fixtures/upstream/hanging-plugin.ts)
 * loaded as a third-party module through the real loader, because no real server
 * can be made to hang on demand; time is an injected clock, so nothing sleeps.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { activateAt, prepareAt } from '../../src/ca/slots.js';
import { loadUpstream } from '../../src/upstream/loader.js';
import { isWcaError } from '../../src/errors.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { capturingLogger, testPluginContext } from '../fakes/upstream-ca.js';
import { rejectionOf } from '../fakes/mint.js';

const fake = path.resolve(import.meta.dirname, '../fixtures/upstream/hanging-plugin.ts');
const TIMEOUT_MS = 30_000;

function get(address: string, urlPath: string): Promise<{ status: number; body: string }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path: urlPath }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Real time passes only for the async work (key generation) between clock steps. */
async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('an upstream whose mint never resolves (hanging-fake)', () => {
  const clock = new FakeClock(Date.now());
  const logs = capturingLogger();
  let app: App;
  let dir: string;
  /**
   * The app's metrics as /metrics renders them, read from its registry: the HTTP endpoint reuses a rendering
   * for limits.metricsCacheMs (1 s), which made each wait below last up to a second longer (/metrics itself
   * is the HTTP listener suite's subject; readiness is still read over HTTP here).
   */
  const scrape = () => app.metrics.registry.metrics();
  const hangs = () => logs.lines().filter((l) => l.msg === 'hanging-fake: mint will never answer').length;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-deadline-'));
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      file,
      [
        'ca: { intermediateTtl: 6h, leafTtl: 30m, leafMaxTtl: 1h }',
        `upstream: { plugin: ${JSON.stringify(fake)}, timeout: ${TIMEOUT_MS / 1000}s, config: { answer: 1 } }`,
        `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
      ].join('\n'),
    );
    app = await startApp(loadConfig({ file, env: {} }), { logger: logs.logger, clock, env: {}, configDir: dir });
  });
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('times the mint out, counts and logs the failure, retries with backoff, reports degraded readiness in time, and keeps serving', async () => {
    const first = app.authority.slotLifetimes().active!;
    expect(await get(app.addresses.http!, '/readyz')).toEqual({ status: 200, body: 'ready\n' });

    // Prepare point: the rotator asks the upstream for a successor, which never answers.
    clock.advance(prepareAt(first) - clock.now() + 1000);
    await until('the first hanging mint', () => hangs() === 1);
    expect(metric(await scrape(), 'wca_rotation_failures_total')).toBe(0);

    // The deadline turns the hang into a counted, logged failure; the plugin's signal fires.
    clock.advance(TIMEOUT_MS);
    await until('a rotation failure in the metrics', async () => metric(await scrape(), 'wca_rotation_failures_total{step="prepare"}') === 1);
    const metrics = await scrape();
    expect(metric(metrics, 'wca_rotation_consecutive_failures')).toBe(1);
    expect(metric(metrics, 'wca_upstream_requests_total{plugin="hanging-fake",outcome="timeout"}')).toBe(1);
    const failure = logs.lines().find((l) => l.msg === 'rotation step failed; current intermediate keeps serving');
    expect(failure).toMatchObject({ step: 'prepare', failures: 1, code: 'ERR_UPSTREAM_TIMEOUT' });
    expect(logs.lines().find((l) => l.msg === 'hanging-fake: signal aborted')).toMatchObject({ mint: 2, reason: 'ERR_UPSTREAM_TIMEOUT' });

    // Not at once: the retry waits for the jittered backoff (5 s base: at least 2.5 s).
    clock.advance(2000);
    await new Promise((r) => setTimeout(r, 100));
    expect(hangs()).toBe(1);
    clock.advance(3000);
    await until('the retry after backoff', () => hangs() === 2);
    clock.advance(TIMEOUT_MS);
    await until('the second failure', async () => metric(await scrape(), 'wca_rotation_consecutive_failures') === 2);

    // Before the activation point the replica is plainly ready: one failure is not yet an emergency.
    expect((await get(app.addresses.http!, '/readyz')).body).toBe('ready\n');
    expect(metric(await scrape(), 'wca_rotation_overdue')).toBe(0);

    // At the point the successor should have been active, readiness says so, with a sixth of the lifetime left.
    clock.advance(activateAt(first) - clock.now() + 1000);
    const ready = await get(app.addresses.http!, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatch(/^ready, degraded: rotation overdue: no successor intermediate/);
    expect(ready.body).toContain('ERR_UPSTREAM_TIMEOUT');
    const left = Number(/expires in (\d+) s/.exec(ready.body)![1]);
    expect(left * 1000).toBeGreaterThan((first.notAfterMs - first.notBeforeMs) / 6 - 5000);
    await until('overdue in the metrics', async () => metric(await scrape(), 'wca_rotation_overdue') === 1);

    // The current intermediate keeps issuing throughout.
    const leaf = await app.authority.issue({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
    expect(leaf.caId).toBe(first.id);
    expect(app.authority.slotLifetimes().active!.id).toBe(first.id);
  });
});

describe('the deadline adapter in the loader', () => {
  it('bounds create() too', async () => {
    const clock = new FakeClock();
    const context = testPluginContext({ schedule: (fn, ms) => clock.schedule(fn, ms), now: () => clock.now() });
    const loading = loadUpstream({ plugin: fake, config: { hangCreate: true } }, context, { timeoutMs: 1000 });
    await until('create() to be called', () => clock.pendingTimers === 1);
    clock.advance(1000);
    const err = await rejectionOf(loading);
    expect(isWcaError(err, 'ERR_UPSTREAM_TIMEOUT')).toBe(true);
    expect((err as { details?: unknown }).details).toMatchObject({ operation: 'create', reason: 'deadline', timeoutMs: 1000 });
  });

  it('bounds every optional method the plugin has, and adds none it lacks', async () => {
    const clock = new FakeClock();
    const context = testPluginContext({ schedule: (fn, ms) => clock.schedule(fn, ms), now: () => clock.now() });
    const upstream = await loadUpstream({ plugin: fake, config: {} }, context, { timeoutMs: 1000 });
    expect(upstream.revoke).toBeUndefined();
    const checking = upstream.checkCredentials!();
    clock.advance(1000);
    expect(await rejectionOf(checking)).toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT', details: { operation: 'checkCredentials', reason: 'deadline' } });
    await upstream.close();
  });

  it('keeps fetchRoots optional and bounded, and cancels with the caller', async () => {
    const clock = new FakeClock();
    const context = testPluginContext({ schedule: (fn, ms) => clock.schedule(fn, ms), now: () => clock.now() });
    const upstream = await loadUpstream({ plugin: fake, config: { answer: 0 } }, context, { timeoutMs: 1000 });
    expect(typeof upstream.fetchRoots).toBe('function');
    const caller = new AbortController();
    const minting = upstream.mintIntermediate({ csrDer: new Uint8Array(), csrPem: '', trustDomain: 'cluster.local', ttlSeconds: 60 }, caller.signal);
    caller.abort();
    const err = await rejectionOf(minting);
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT', details: { operation: 'mintIntermediate', reason: 'aborted' } });
    expect(clock.pendingTimers).toBe(0);
    await upstream.close();
  });
});

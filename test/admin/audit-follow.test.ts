/**
 * `workload-ca audit tail --follow`: a since-seq cursor over ListAuditEvents, one
 * JSON object per line with -o json, gaps from the bounded ring reported, and a
 * clean end (exit 0) on Ctrl-C or SIGTERM of a real CLI process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { AuditLog } from '../../src/audit/log.js';
import { registerAuditCommand } from '../../src/cli/commands/audit.js';
import { systemClock } from '../../src/clock.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { cliEntry } from '../helpers/test-build.js';

let dir: string;
let admin: AdminServer;
let audit: AuditLog;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-audit-follow-'));
  // A small ring, so a burst between two polls overflows it.
  audit = new AuditLog({ clock: systemClock, ringSize: 20 });
  const logger = silentLogger();
  admin = await startAdminServer({
    joinTokens: new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 }),
    logger,
    listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
    audit,
    authority: {
      authority: { authorities: () => [], bundle: () => ({ trustDomain: 'cluster.local', pem: '', version: '' }), trustDomain: 'cluster.local' } as never,
      convergence: {} as never,
      audit,
      upstream: { name: 'test' },
      clock: systemClock,
      logger,
    },
  });
});
afterAll(async () => {
  await admin?.close();
  await rm(dir, { recursive: true, force: true });
});

const bundleEvent = (n: number) => audit.record({ type: 'bundle', version: `v${n}`, roots: n });
const until = async (check: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('audit tail --follow', () => {
  it('prints the tail, then each new event once as one JSON object per line, and ends when stopped', async () => {
    bundleEvent(1);
    const reads = () => audit.tail({ types: ['admin'], limit: 1000 }).filter((e) => e.type === 'admin' && e.rpc === 'ListAuditEvents').length;
    const readsBefore = reads();
    let stdout = '';
    let stderr = '';
    const stop = new AbortController();
    const program = new Command('workload-ca').exitOverride();
    registerAuditCommand(program, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } }, { signal: stop.signal, intervalMs: 50 });
    const done = program.parseAsync(['node', 'workload-ca', 'audit', 'tail', '--follow', '-o', 'json', '--type', 'bundle', '-n', '1', '--admin-socket', `unix:${admin.path}`]);
    const lines = () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; version: string; seq: number });
    await until(() => lines().length === 1);
    bundleEvent(2);
    bundleEvent(3);
    await until(() => lines().length === 3);
    // Other types are filtered out; the cursor still moves past them.
    audit.record({ type: 'admin', rpc: 'X', caller: 'test', outcome: 'ok' });
    bundleEvent(4);
    await until(() => lines().length === 4);
    expect(lines().map((l) => l.version)).toEqual(['v1', 'v2', 'v3', 'v4']);
    // Each event once, in order.
    const seqs = lines().map((l) => l.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    stop.abort();
    await expect(done).resolves.toBeDefined();
    expect(stderr).toBe('');
    // The follow is audited once (its first call), not once per poll: polls would feed themselves a line each.
    expect(reads() - readsBefore).toBe(1);
  });

  it('says how many events left the bounded ring before a follower read them', async () => {
    let stderr = '';
    let stdout = '';
    const stop = new AbortController();
    const program = new Command('workload-ca').exitOverride();
    registerAuditCommand(program, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } }, { signal: stop.signal, intervalMs: 300 });
    const done = program.parseAsync(['node', 'workload-ca', 'audit', 'tail', '-f', '-o', 'json', '-n', '1', '--admin-socket', `unix:${admin.path}`]);
    await until(() => stdout.length > 0);
    // 50 events into a ring of 20 between two polls: 30 of them are gone, 20 are printed.
    for (let i = 0; i < 50; i++) bundleEvent(100 + i);
    await until(() => stderr.length > 0);
    const gap = /^audit: (\d+) events after seq (\d+) left the server's ring before they were read\n$/.exec(stderr);
    expect(gap).not.toBeNull();
    stop.abort();
    await done;
    // The ring's 20 latest are printed, and the gap ends right before the first of them.
    const burst = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq: number; version?: string }).filter((e) => e.version?.startsWith('v1'));
    expect(burst.map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => `v${130 + i}`));
    expect(Number(gap![2]) + Number(gap![1]) + 1).toBe(burst[0]!.seq);
  });

  // The two cases run side by side: each its own process and its own event version, on the one admin socket.
  it.concurrent.for(['SIGINT', 'SIGTERM'] as const)('a real CLI process ends cleanly (exit 0) on %s', { timeout: 40_000 }, async (signal, { expect }) => {
    const child = spawn(process.execPath, [cliEntry, 'audit', 'tail', '--follow', '-o', 'json', '--admin-socket', `unix:${admin.path}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => stdout.length > 0, 25_000);
      // A version of this case's own: the first lines repeat the ring's latest events, the other case's among them.
      const version = signal === 'SIGINT' ? 1000 : 1001;
      bundleEvent(version);
      await until(() => stdout.includes(`"v${version}"`), 10_000);
      child.kill(signal);
      expect(await exited).toBe(0);
      for (const line of stdout.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  });
});

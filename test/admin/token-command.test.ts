import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { registerTokenCommand } from '../../src/cli/commands/token.js';
import { exitCodeOf, ExitCode } from '../../src/errors.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';

let dir: string;
let server: AdminServer;
const store = new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-token-cli-'));
  server = await startAdminServer({ joinTokens: store, logger: silentLogger(), listen: { kind: 'unix', path: path.join(dir, 'admin.sock') } });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `workload-ca token …` in-process; returns stdout, stderr and the exit code main() would use. */
async function run(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const program = new Command('workload-ca').exitOverride();
  registerTokenCommand(program, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  try {
    await program.parseAsync(['node', 'workload-ca', 'token', ...args]);
    return { stdout, stderr, exit: ExitCode.OK, message: '' };
  } catch (err) {
    return { stdout, stderr, exit: exitCodeOf(err), message: (err as Error).message };
  }
}

describe('workload-ca token create', () => {
  it('prints only the token on stdout and a note on stderr', async () => {
    const result = await run('create', '--spiffe-id', 'spiffe://cluster.local/vm/db-1', '--ttl', '15m', '--dns', 'db-1.vm.internal', '--admin-socket', `unix:${server.path}`);
    expect(result.exit).toBe(0);
    const token = result.stdout.trim();
    expect(token).toMatch(/^wcajt_[A-Za-z0-9_-]{43}$/);
    expect(result.stderr).toMatch(/^join token [0-9a-f]{16} for spiffe:\/\/cluster.local\/vm\/db-1, usable once until 2026-01-01T00:15:00.000Z\n$/);
    expect((await store.consume(token, 'test')).dnsNames).toEqual(['db-1.vm.internal']);
  });

  it('prints JSON with -o json', async () => {
    const result = await run('create', '--spiffe-id', 'spiffe://cluster.local/vm/db-2', '--ttl', '60', '-o', 'json', '--admin-socket', `unix:${server.path}`);
    expect(JSON.parse(result.stdout)).toMatchObject({ spiffe_id: 'spiffe://cluster.local/vm/db-2', dns_names: [], expires_at: '2026-01-01T00:01:00.000Z' });
  });

  it.each([
    ['a bad TTL', ['--ttl', 'soon'], ExitCode.USAGE, /--ttl: "soon" is not a duration/],
    ['a TTL above the server maximum', ['--ttl', '2h'], ExitCode.USAGE, /between 1 s and 3600 s/],
    ['a foreign trust domain', ['--ttl', '1m', '--spiffe-id', 'spiffe://evil.org/x'], ExitCode.USAGE, /not in trust domain "cluster.local"/],
    ['a TCP admin address', ['--ttl', '1m', '--admin-socket', '127.0.0.1:9'], ExitCode.USAGE, /must be unix:\/absolute\/path/],
    ['no server on the socket', ['--ttl', '1m', '--admin-socket', 'unix:/nonexistent/wca.sock'], ExitCode.FAILURE, /cannot reach the admin API at unix:\/nonexistent\/wca.sock/],
  ])('fails on %s with a clear message and exit code', async (_name, flags, exit, message) => {
    const base = ['create', '--spiffe-id', 'spiffe://cluster.local/vm/db-1', '--admin-socket', `unix:${server.path}`];
    const result = await run(...base, ...flags);
    expect(result.exit).toBe(exit);
    expect(result.message).toMatch(message);
    expect(result.stdout).toBe('');
  });
});

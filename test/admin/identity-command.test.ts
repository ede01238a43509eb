import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { registerIdentityCommand } from '../../src/cli/commands/identity.js';
import { exitCodeOf, ExitCode, isWcaError } from '../../src/errors.js';
import { EvictionList } from '../../src/identity/evictions.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';

let dir: string;
let server: AdminServer;
let bare: AdminServer;
const clock = new FakeClock();
const evictions = new EvictionList(clock, 4 * 3600_000);
const ended: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-identity-cli-'));
  const joinTokens = new JoinTokenStore('cluster.local', clock, { maxTtlSeconds: 3600 });
  server = await startAdminServer({
    joinTokens,
    identities: {
      trustDomain: 'cluster.local',
      evictions,
      endStreams: (spiffeId, err) => {
        expect(isWcaError(err, 'ERR_IDENTITY_EVICTED')).toBe(true);
        ended.push(spiffeId);
        return 2;
      },
    },
    logger: silentLogger(),
    listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
  });
  bare = await startAdminServer({ joinTokens, logger: silentLogger(), listen: { kind: 'unix', path: path.join(dir, 'bare.sock') } });
});
afterAll(async () => {
  await server.close();
  await bare.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `workload-ca identity …` in-process; returns stdout, stderr and the exit code main() would use. */
async function run(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const program = new Command('workload-ca').exitOverride();
  registerIdentityCommand(program, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  try {
    await program.parseAsync(['node', 'workload-ca', 'identity', ...args]);
    return { stdout, stderr, exit: ExitCode.OK, error: undefined as unknown };
  } catch (err) {
    return { stdout, stderr, exit: exitCodeOf(err), error: err };
  }
}

describe('workload-ca identity evict', () => {
  it('prints a table: the SPIFFE ID, when, until when, and how many streams ended', async () => {
    const result = await run('evict', 'spiffe://cluster.local/vm/db-1', '--admin-socket', `unix:${server.path}`);
    expect(result.exit).toBe(0);
    expect(result.stdout).toBe(
      [
        'SPIFFE ID                       EVICTED AT                REFUSED UNTIL             STREAMS ENDED',
        'spiffe://cluster.local/vm/db-1  2026-01-01T00:00:00.000Z  2026-01-01T04:00:00.000Z  2',
        '',
      ].join('\n'),
    );
    expect(ended).toEqual(['spiffe://cluster.local/vm/db-1']);
    // The eviction is in force for certificates of a lineage begun by then.
    expect(() => evictions.check('spiffe://cluster.local/vm/db-1', clock.now())).toThrow(expect.objectContaining({ code: 'ERR_IDENTITY_EVICTED' }));
  });

  it('prints JSON with -o json', async () => {
    const result = await run('evict', 'spiffe://cluster.local/vm/db-2', '-o', 'json', '--admin-socket', `unix:${server.path}`);
    expect(JSON.parse(result.stdout)).toEqual({
      spiffe_id: 'spiffe://cluster.local/vm/db-2',
      evicted_at: '2026-01-01T00:00:00.000Z',
      expires_at: '2026-01-01T04:00:00.000Z',
      streams_ended: 2,
    });
  });

  it.each([
    ['an invalid SPIFFE ID', ['evict', 'spiffe://cluster.local/vm//db'], ExitCode.USAGE, 'ERR_SPIFFE_ID_INVALID'],
    ['a foreign trust domain', ['evict', 'spiffe://evil.org/vm/db'], ExitCode.USAGE, 'ERR_TRUST_DOMAIN_MISMATCH'],
    ['an unknown output format', ['evict', 'spiffe://cluster.local/vm/db', '-o', 'yaml'], ExitCode.USAGE, 'ERR_USAGE'],
    ['a TCP admin address', ['evict', 'spiffe://cluster.local/vm/db', '--admin-socket', '127.0.0.1:9'], ExitCode.USAGE, 'ERR_USAGE'],
    ['no server on the socket', ['evict', 'spiffe://cluster.local/vm/db', '--admin-socket', 'unix:/nonexistent/wca.sock'], ExitCode.FAILURE, 'ERR_ADMIN_UNAVAILABLE'],
  ])('fails on %s with the right code and exit status, printing nothing', async (_name, args, exit, code) => {
    const withSocket = args.includes('--admin-socket') ? args : [...args, '--admin-socket', `unix:${server.path}`];
    const result = await run(...withSocket);
    expect(result.exit).toBe(exit);
    expect(isWcaError(result.error, code as never)).toBe(true);
    expect(result.stdout).toBe('');
  });

  it('exits non-zero against a server without eviction', async () => {
    const result = await run('evict', 'spiffe://cluster.local/vm/db', '--admin-socket', `unix:${bare.path}`);
    expect(result.exit).toBe(ExitCode.FAILURE);
    expect(result.stdout).toBe('');
  });
});

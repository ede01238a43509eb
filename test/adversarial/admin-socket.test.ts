/**
 * Issue #8, item 13: the admin socket. Its file mode is the admin API's only
 * access control, so another local user must not be able to bind it first (and
 * stop the server), impersonate it (and hand `token create` a token of theirs),
 * or leave a stale socket that makes the server hang.
 *
 * Non-root cases run the real CLI as `nobody` through setpriv; where the test
 * does not run as root they are skipped with a hint. "Another user's" sockets
 * and directories are made by root and chowned to nobody: ownership is what the
 * checks look at.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAdminSocketPath } from '../../src/admin/socket-path.js';
import { startAdminServer } from '../../src/admin/server.js';
import { registerTokenCommand } from '../../src/cli/commands/token.js';
import { loadConfig } from '../../src/config/load.js';
import { exitCodeOf, ExitCode, isWcaError } from '../../src/errors.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { leaveStaleSocket } from '../helpers/stale-socket.js';
import { hasTools } from '../helpers/tools.js';
import { cliEntry } from '../helpers/test-build.js';

const NOBODY = 65534;
const repo = path.resolve(import.meta.dirname, '../..');
const isRoot = process.geteuid?.() === 0;
const canDropPrivileges = isRoot && hasTools('setpriv');
if (!canDropPrivileges) {
  process.stdout.write(
    `admin-socket.test.ts: the non-root cases are skipped: they need to run as root with setpriv (util-linux) to start the CLI as nobody (${isRoot ? 'setpriv missing' : 'not root'})\n`,
  );
}

let base: string;
/** `serve` with one signer thread: each start is seconds of CPU on a loaded machine. */
let serveFlags: string[];
beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-admin-sock-'));
  fs.chmodSync(base, 0o755); // nobody must reach the directories made below
  const config = path.join(base, 'config.yaml');
  fs.writeFileSync(config, 'ca: { signers: 1 }\nlisten: { sds: "127.0.0.1:0", http: "127.0.0.1:0" }\n', { mode: 0o644 });
  serveFlags = ['serve', '-c', config];
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

/** A directory under `base` with this owner and mode. */
function makeDir(name: string, owner: number, mode: number): string {
  const dir = path.join(base, name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, owner, owner);
  fs.chmodSync(dir, mode);
  return dir;
}


interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds until the process exited (or was killed at the limit). */
  ms: number;
}

/**
 * The real CLI as nobody. Resolves when it exits, or when `readyWhen` appears on
 * stdout (then `stop` ends it); kills it at `limitMs`, so a hang is a failure, not a stuck test.
 */
function runAsNobody(args: string[], env: Record<string, string>, limitMs: number, readyWhen?: RegExp): Promise<Run & { stop(): Promise<void> }> {
  const started = Date.now();
  const child = spawn(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, cliEntry, ...args],
    { cwd: repo, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', WCA_LOG_LEVEL: 'warn', ...env } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  return new Promise((resolve) => {
    const done = (code: number | null) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr, ms: Date.now() - started, stop });
    };
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
    }, limitMs);
    child.on('exit', (code) => done(code));
    if (readyWhen) child.stdout.on('data', () => readyWhen.test(stdout) && done(null));
  });
}


describe('the default admin socket directory', () => {
  it('is per user: /run/workload-ca for root, $XDG_RUNTIME_DIR/workload-ca, else a per-uid directory; serve and the CLI agree', () => {
    expect(defaultAdminSocketPath({ XDG_RUNTIME_DIR: '/run/user/0' }, 0)).toBe('/run/workload-ca/admin.sock');
    expect(defaultAdminSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/workload-ca/admin.sock');
    expect(defaultAdminSocketPath({}, 1000)).toBe('/tmp/workload-ca-1000/admin.sock');
    expect(defaultAdminSocketPath({ XDG_RUNTIME_DIR: 'relative' }, 1000)).toBe('/tmp/workload-ca-1000/admin.sock');
    const env = { XDG_RUNTIME_DIR: '/run/user/4242' };
    expect(loadConfig({ env }).listen.admin).toEqual({ kind: 'unix', path: defaultAdminSocketPath(env) });
  });
});

describe('a directory another user owns', () => {
  const store = new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 });

  it.each([
    ['owned by another user', () => makeDir('owned-by-nobody', NOBODY, 0o700), 'dir-owner'],
    ['writable by everyone, like /tmp', () => makeDir('shared', 0, 0o1777), 'dir-mode'],
  ])('is refused when %s, with a clear error and exit code 3', async (_name, dir, reason) => {
    const err = await startAdminServer({ joinTokens: store, logger: silentLogger(), listen: { kind: 'unix', path: path.join(dir(), 'admin.sock') } }).catch(
      (e: unknown) => e,
    );
    expect(isWcaError(err, 'ERR_ADMIN_SOCKET_UNSAFE')).toBe(true);
    expect((err as { details: unknown }).details).toMatchObject({ reason });
    expect(exitCodeOf(err)).toBe(ExitCode.CONFIG);
  });

});

describe('token create and a socket another user owns (a squatter)', () => {
  /** `workload-ca token create` in-process; returns what it printed and its exit code. */
  async function tokenCreate(socketPath: string) {
    let stdout = '';
    const program = new Command('workload-ca').exitOverride();
    registerTokenCommand(program, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stdout += t) } });
    try {
      await program.parseAsync(['node', 'workload-ca', 'token', 'create', '--spiffe-id', 'spiffe://cluster.local/vm/db1', '--ttl', '5m', '--admin-socket', `unix:${socketPath}`]);
      return { stdout, exit: ExitCode.OK, err: undefined };
    } catch (err) {
      return { stdout, exit: exitCodeOf(err), err };
    }
  }

  /** The squatter: a real admin API that would answer with a token of its own, on a socket chowned to nobody. */
  async function squatter(dir: string) {
    const store = new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 });
    const server = await startAdminServer({ joinTokens: store, logger: silentLogger(), listen: { kind: 'unix', path: path.join(dir, 'admin.sock') } });
    fs.chownSync(server.path, NOBODY, NOBODY);
    return { server, store };
  }

  it.each([
    ['the socket belongs to another user', 'socket-owner', false],
    ['the directory belongs to another user (the squatter made it first)', 'dir-owner', true],
  ])('refuses when %s: nothing is sent, no token printed, exit 3', async (_name, reason, chownDir) => {
    const dir = fs.mkdtempSync(path.join(base, 'squat-'));
    const { server, store } = await squatter(dir);
    if (chownDir) fs.chownSync(dir, NOBODY, NOBODY);
    try {
      const result = await tokenCreate(server.path);
      expect(result.stdout).not.toMatch(/wcajt_/);
      expect(await store.outstanding()).toBe(0);
      expect(result.exit).toBe(ExitCode.CONFIG);
      expect(isWcaError(result.err, 'ERR_ADMIN_SOCKET_UNSAFE')).toBe(true);
      expect((result.err as { details: unknown }).details).toMatchObject({ reason, owner: NOBODY });
    } finally {
      await server.close();
    }
  });

  it('still talks to a socket of its own user', async () => {
    const dir = fs.mkdtempSync(path.join(base, 'own-'));
    const store = new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 });
    const server = await startAdminServer({ joinTokens: store, logger: silentLogger(), listen: { kind: 'unix', path: path.join(dir, 'admin.sock') } });
    try {
      expect((await tokenCreate(server.path)).stdout).toMatch(/^wcajt_/);
    } finally {
      await server.close();
    }
  });
});

// Each case starts the real CLI as nobody (seconds each on a loaded machine), so they run side by side.
describe.runIf(canDropPrivileges)('as a non-root user (nobody)', () => {
  it.concurrent('is created 0700 and owned by a non-root server, and `token create` finds the server there without flags', async () => {
    const runtime = makeDir('xdg-nobody', NOBODY, 0o700);
    const env = { XDG_RUNTIME_DIR: runtime };
    const server = await runAsNobody(serveFlags, env, 25_000, /sds +\S+/);
    try {
      expect(server.stdout).toContain(`admin  unix:${runtime}/workload-ca/admin.sock`);
      const stat = fs.lstatSync(path.join(runtime, 'workload-ca'));
      expect({ mode: stat.mode & 0o7777, uid: stat.uid }).toEqual({ mode: 0o700, uid: NOBODY });
      const token = await runAsNobody(['token', 'create', '--spiffe-id', 'spiffe://cluster.local/vm/db1', '--ttl', '5m'], env, 25_000);
      expect(token.stderr).not.toMatch(/error/);
      expect(token).toMatchObject({ code: 0, stdout: expect.stringMatching(/^wcajt_/) });
    } finally {
      await server.stop();
    }
  }, 60_000);

  it.concurrent('stops a non-root server quickly, naming the owner, when someone created its default directory first', async () => {
    const runtime = makeDir('xdg-squatted', NOBODY, 0o755);
    makeDir('xdg-squatted/workload-ca', 0, 0o755);
    const run = await runAsNobody(serveFlags, { XDG_RUNTIME_DIR: runtime }, 25_000);
    expect(run.code).toBe(ExitCode.CONFIG);
    expect(run.stderr).toMatch(new RegExp(`error: ${runtime}/workload-ca \\(the admin socket's directory\\) belongs to uid 0, not to this user \\(uid ${NOBODY}\\)`));
  }, 60_000);

  it.concurrent.each([
    ['admin', '--admin-listen', /the admin socket's directory\) has mode 1777: other users can create or replace the socket/],
    ['http', '--http-listen', /cannot replace the stale socket there \(EPERM; it belongs to uid 0, this process runs as uid 65534\)/],
  ])('a stale socket another user left in a shared /tmp-like directory makes the server exit with a clear error, not hang (%s socket)', async (name, flag, message) => {
    const shared = makeDir(`shared-${name}`, 0, 0o1777);
    const stale = path.join(shared, `${name}.sock`);
    await leaveStaleSocket(stale);
    const own = makeDir(`own-${name}`, NOBODY, 0o700);
    const flags = { '--admin-listen': `unix:${own}/admin.sock`, [flag]: `unix:${stale}` };
    const run = await runAsNobody([...serveFlags, ...Object.entries(flags).flat()], {}, 25_000);
    expect(run.code).toBe(ExitCode.CONFIG);
    expect(run.stderr).toMatch(message);
    // The stale socket is left alone, and nothing of ours is left next to it.
    expect(fs.readdirSync(shared)).toEqual([`${name}.sock`]);
  }, 60_000);
});

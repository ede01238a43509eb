/** Issue #11 item 4: the systemd unit for VMs, checked by systemd's own analyser. */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { limits } from '../../src/limits.js';
import { parseDurationSeconds } from '../../src/duration.js';
import { serveProcess } from '../helpers/serve-process.js';
import { hasTools, toolPath } from '../helpers/tools.js';
import { cliEntry } from '../helpers/test-build.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const unit = path.join(repo, 'deploy/systemd/workload-ca.service');
const sysusers = path.join(repo, 'deploy/systemd/workload-ca.sysusers.conf');

/** `Key=value` lines of the [Service] section (last one wins, as in systemd). */
function serviceSection(): Map<string, string[]> {
  const text = fs.readFileSync(unit, 'utf8');
  const section = text.slice(text.indexOf('[Service]'), text.indexOf('[Install]'));
  const keys = new Map<string, string[]>();
  for (const m of section.matchAll(/^([A-Za-z]+)=(.*)$/gm)) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
  return keys;
}

/** How long the server may take to exit after SIGTERM: shutdownTimeout, then its own backstop (exit 1). */
const backstopSeconds = Number(/const shutdownBackstopSeconds = (\d+);/.exec(fs.readFileSync(path.join(repo, 'src/cli/commands/serve.ts'), 'utf8'))?.[1]);

/** Every system call in systemd's named sets, nested sets expanded, as `systemd-analyze syscall-filter` lists them. */
async function syscallSet(...groups: string[]): Promise<Set<string>> {
  const names = new Set<string>();
  const seen = new Set<string>();
  let pending = groups;
  while (pending.length > 0) {
    pending.forEach((g) => seen.add(g));
    const { stdout } = await run(toolPath('systemdAnalyze')!, ['syscall-filter', '--no-pager', ...pending], { timeout: 60_000 });
    const listed = [...stdout.matchAll(/^\s+(@?[a-z0-9_]+)$/gm)].map((m) => m[1]!);
    listed.filter((n) => !n.startsWith('@')).forEach((n) => names.add(n));
    pending = [...new Set(listed.filter((n) => n.startsWith('@') && !seen.has(n)))];
  }
  return names;
}

describe.runIf(hasTools('systemdAnalyze', 'systemdSysusers'))('deploy/systemd/workload-ca.service', () => {
  it('passes systemd-analyze verify with no warning (an unknown or misspelt key is a warning)', async () => {
    const { stdout, stderr } = await run(toolPath('systemdAnalyze')!, ['verify', '--man=no', unit], { timeout: 60_000 });
    expect(stdout + stderr).toBe('');
  });

  it("rates 'OK' or better in systemd-analyze security", async () => {
    const { stdout } = await run(toolPath('systemdAnalyze')!, ['security', '--offline=yes', '--no-pager', unit], { timeout: 60_000 });
    const level = Number(/Overall exposure level for workload-ca\.service: ([\d.]+)/.exec(stdout)?.[1]);
    expect(level).toBeLessThan(2.5);
  });

  it('runs as the dedicated user, hardened, with its admin socket in the runtime directory', () => {
    const keys = serviceSection();
    const one = (key: string) => keys.get(key)?.at(-1);
    expect(one('User')).toBe('workload-ca');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('RuntimeDirectory')).toBe('workload-ca');
    expect(one('RuntimeDirectoryMode')).toBe('0700');
    expect(keys.get('Environment')).toContain('WCA_ADMIN_LISTEN=unix:/run/workload-ca/admin.sock');
  });

  it('gives systemd longer to stop than the default drain plus the server\'s own backstop, and says how to raise it', () => {
    const keys = serviceSection();
    const stop = parseDurationSeconds(keys.get('TimeoutStopSec')!.at(-1)!)!;
    expect(backstopSeconds).toBeGreaterThan(0);
    // The schema default (10 s): systemd must not SIGKILL a drain before the server's backstop exits it.
    expect(stop).toBeGreaterThan(10 + backstopSeconds);
    expect(limits.shutdownTimeoutMaxSeconds + 10).toBeGreaterThan(limits.shutdownTimeoutMaxSeconds + backstopSeconds);
    const vm = fs.readFileSync(path.join(repo, 'docs/vm.md'), 'utf8');
    expect(vm).toMatch(/\[Service\]\nTimeoutStopSec=\d+s/);
  });

  it('has a logs directory for `audit: {sink: file}` under ProtectSystem=strict', () => {
    const keys = serviceSection();
    expect(keys.get('LogsDirectory')).toEqual(['workload-ca']);
    expect(keys.get('ProtectSystem')).toEqual(['strict']);
  });

  it('filters system calls to @system-service minus @privileged and @resources, in a user namespace of its own', () => {
    const keys = serviceSection();
    expect(keys.get('SystemCallFilter')).toEqual(['@system-service', '~@privileged @resources']);
    expect(keys.get('SystemCallErrorNumber')).toEqual(['EPERM']);
    expect(keys.get('PrivateUsers')).toEqual(['yes']);
  });

  it("starts the package's bin with node, not a TypeScript loader", () => {
    const { bin } = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(serviceSection().get('ExecStart')).toEqual([
      `/usr/bin/node /usr/lib/node_modules/workload-ca/${bin['workload-ca']} serve --config /etc/workload-ca/config.yaml`,
    ]);
  });

  it('the sysusers file creates that user', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-sysusers-'));
    fs.mkdirSync(path.join(root, 'etc'));
    const { stdout, stderr } = await run(toolPath('systemdSysusers')!, ['--dry-run', `--root=${root}`, sysusers], { timeout: 60_000 });
    expect(stdout + stderr).toMatch(/Creating user 'workload-ca'/);
  });
});

describe.runIf(hasTools('systemdAnalyze', 'strace'))('the server under the unit\'s system-call filter', () => {
  it('starts, serves /readyz and drains on SIGTERM without one call from @privileged or @resources', async () => {
    const denied = await syscallSet('@privileged', '@resources');
    expect(denied).toContain('setuid');
    expect(denied).toContain('setrlimit');
    expect(denied).toContain('chown');
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wca-syscalls-')), 'trace');
    // `?` lets strace skip names this architecture lacks (setuid32 ...). The whole tree is traced:
    // node, its signer threads and anything it starts.
    const server = await serveProcess({
      sds: () => '127.0.0.1:0',
      yaml: 'shutdownTimeout: 1s\n',
      wrap: ['strace', '-f', '-qq', '--seccomp-bpf', '-e', `trace=${[...denied].map((n) => `?${n}`).join(',')}`, '-o', log],
    });
    expect((await fetch(`http://${server.http}/readyz`)).status).toBe(200);
    const since = Date.now();
    server.signal('SIGTERM');
    expect((await server.exited(since)).code).toBe(0);
    const calls = fs.readFileSync(log, 'utf8').split('\n').map((l) => /^\d+\s+([a-z0-9_]+)\(/.exec(l)?.[1]).filter((n) => n !== undefined);
    expect(calls).toEqual([]);
  }, 60_000);
});

/**
 * The unit's system user gets whatever uid the host gives it; not 65532, the image's user,
 * whose temp files the image test counts by owner while this suite may be running.
 */
const serviceUid = 61000;
/** Mapping two users into a namespace needs root; CI runs as root, so there it never skips. */
const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('CI=true but the PrivateUsers test needs root to map two users');
const canMapUsers = hasTools('unshare', 'setpriv') && isRoot;

// PrivateUsers=yes, emulated without systemd: a user namespace mapping only root and the service's user.
describe.runIf(canMapUsers)('PrivateUsers=yes and the admin socket (needs root to map two users, as systemd does)', () => {
  it('a server in a namespace mapping only root and its user makes a socket that user drives from outside', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-userns-'));
    fs.chmodSync(dir, 0o755);
    const runtime = path.join(dir, 'run');
    fs.mkdirSync(runtime, { mode: 0o700 }); // as RuntimeDirectory= makes it
    fs.chownSync(runtime, serviceUid, serviceUid);
    const socket = path.join(runtime, 'admin.sock');
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(config, `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${socket}" }\nshutdownTimeout: 1s\nlog: { level: warn }\n`, { mode: 0o644 });
    const asService = ['setpriv', `--reuid=${serviceUid}`, `--regid=${serviceUid}`, '--clear-groups', 'env', 'HOME=/nonexistent'];
    // The shell waits for the map, then becomes the service's user, as systemd does after writing it.
    const script = `while [ "$(wc -l < /proc/self/uid_map)" -lt 2 ]; do sleep 0.05; done; exec "$@"`;
    const child = spawn('unshare', ['--user', 'sh', '-c', script, 'sh', ...asService, process.execPath, cliEntry, 'serve', '-c', config], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // The map can be written once unshare has made the namespace (its ns/user is no longer ours).
    const ours = fs.readlinkSync('/proc/self/ns/user');
    await expect.poll(() => fs.readlinkSync(`/proc/${child.pid}/ns/user`), { timeout: 10_000, interval: 10 }).not.toBe(ours);
    const map = `0 0 1\n${serviceUid} ${serviceUid} 1\n`; // one write(2), as the kernel requires
    fs.writeFileSync(`/proc/${child.pid}/uid_map`, map);
    fs.writeFileSync(`/proc/${child.pid}/gid_map`, map);
    await expect.poll(() => stdout, { timeout: 30_000, interval: 200 }).toMatch(/^\s+admin\s+/m);
    expect(fs.readFileSync(`/proc/${child.pid}/uid_map`, 'utf8').trim().split('\n')).toHaveLength(2);
    // Seen from outside, the socket is the service user's, and only theirs.
    const stat = fs.statSync(socket);
    expect([stat.uid, stat.mode & 0o777]).toEqual([serviceUid, 0o600]);
    const [bin, ...args] = asService;
    const { stdout: shown } = await run(bin!, [...args, process.execPath, cliEntry, 'authority', 'show', '-o', 'json', '--admin-socket', `unix:${socket}`], {
      cwd: repo,
      timeout: 30_000,
    });
    expect(JSON.parse(shown)).toBeTruthy();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('shutdown complete');
  }, 60_000);
});

/**
 * The admin API over TCP: mutual TLS through the SDS side's TLS listener, the
 * caller's SPIFFE ID from a client certificate OpenSSL validated against the admin
 * client CA (TLS client purpose), and an allow-list. Real TLS, real grpc-js peers;
 * the certificates are made with the openssl CLI.
 */
import { spawn, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAuthorityCommand } from '../../src/cli/commands/authority.js';
import { exitCodeOf, ExitCode } from '../../src/errors.js';
import { connectAdminTcp, type AdminTcpTarget } from '../../src/admin/client.js';
import type { AdminServer } from '../../src/admin/server.js';
import type { AuditLog } from '../../src/audit/log.js';
import type { Authority } from '../../src/ca/authority.js';
import { startTcpAdminLab, type TcpAdminLab } from '../helpers/admin-tcp.js';
import { extensions, type OpensslCert } from '../helpers/openssl-ca.js';
import { hasTools } from '../helpers/tools.js';

const ALICE = 'spiffe://admin.example/ops/alice';
const MALLORY = 'spiffe://admin.example/ops/mallory';

describe.runIf(hasTools('openssl'))('admin API over TCP: mutual TLS and an allow-list', () => {
  let lab: TcpAdminLab;
  let dir: string;
  let admin: AdminServer;
  let authority: Authority;
  let audit: AuditLog;
  let serverRoot: OpensslCert;
  const clients: Record<'alice' | 'mallory' | 'foreign' | 'serverAuthOnly' | 'caAlice', OpensslCert> = {} as never;

  beforeAll(async () => {
    lab = await startTcpAdminLab({ allow: [ALICE], connections: { handshakeTimeoutMs: 1000, idleTimeoutMs: 10_000, perAddress: 4, max: 16, keepalive: { intervalMs: 30_000, timeoutMs: 10_000 } } });
    ({ dir, admin, authority, audit, serverRoot } = lab);
    const { bench, clientCa } = lab;
    const otherCa = await bench.root('/CN=some other CA');
    clients.alice = await bench.issue(clientCa, '/CN=alice', extensions.svid(ALICE, { eku: 'clientAuth' }));
    clients.mallory = await bench.issue(clientCa, '/CN=mallory', extensions.svid(MALLORY, { eku: 'clientAuth' }));
    clients.foreign = await bench.issue(otherCa, '/CN=alice elsewhere', extensions.svid(ALICE, { eku: 'clientAuth' }));
    clients.serverAuthOnly = await bench.issue(clientCa, '/CN=alice server', extensions.svid(ALICE, { eku: 'serverAuth' }));
    // A CA certificate that names alice and passes OpenSSL's client-purpose check (digitalSignature, clientAuth).
    clients.caAlice = await bench.issue(
      clientCa,
      '/CN=alice sub-CA',
      `basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=clientAuth\nsubjectAltName=critical,URI:${ALICE}\n`,
    );
  }, 60_000);
  afterAll(async () => {
    await lab?.close();
  });

  const target = (who?: OpensslCert): AdminTcpTarget => ({
    address: admin.tcpAddress!,
    caPem: serverRoot.certPem,
    ...(who ? { certPem: who.certPem, keyPem: who.keyPem } : {}),
  });
  async function call<T>(who: OpensslCert | undefined, fn: (c: ReturnType<typeof connectAdminTcp>) => Promise<T>): Promise<T> {
    const client = connectAdminTcp(target(who));
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }
  const adminEvents = (rpc: string) => audit.tail({ types: ['admin'], limit: 1000 }).filter((e) => e.type === 'admin' && e.rpc === rpc);

  it('serves an allowed SPIFFE ID, and the audit log names it as the caller', async () => {
    const status = await call(clients.alice, (c) => c.getAuthorityStatus());
    expect(status.authorities.some((a) => a.state === 'active')).toBe(true);
    expect(adminEvents('GetAuthorityStatus').at(-1)).toMatchObject({ caller: ALICE, outcome: 'ok' });
  });

  it.each([
    ['no client certificate', undefined, 'ERR_UNAUTHENTICATED', 'no-client-certificate'],
    ['a certificate from another CA', 'foreign', 'ERR_UNAUTHENTICATED', 'chain-invalid'],
    ['a server-auth-only certificate (OpenSSL: invalid purpose)', 'serverAuthOnly', 'ERR_UNAUTHENTICATED', 'chain-invalid'],
    ['a verified certificate whose ID is not allowed', 'mallory', 'ERR_PERMISSION_DENIED', 'not-allowed'],
    ['a CA certificate naming an allowed ID', 'caAlice', 'ERR_UNAUTHENTICATED', 'leaf-is-ca'],
  ] as const)('refuses %s, audited, and the request changes nothing', async (_name, who, code, reason) => {
    const before = authority.authorities().map((a) => `${a.id}:${a.state}`);
    const err = await call(who ? clients[who] : undefined, (c) => c.prepareAuthority({ reason: 'let me in' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code, details: { reason } });
    expect(authority.authorities().map((a) => `${a.id}:${a.state}`)).toEqual(before);
    const event = adminEvents('PrepareAuthority').at(-1);
    expect(event).toMatchObject({ outcome: 'error', code, caller: who === 'mallory' ? MALLORY : expect.stringMatching(/^tls:127\.0\.0\.1:\d+$/) });
    // Still serving the allowed caller.
    expect((await call(clients.alice, (c) => c.getBundle())).roots_pem.join('')).toContain('BEGIN CERTIFICATE');
  });

  it('a malformed request from an allowed caller is ERR_USAGE, audited with its SPIFFE ID, and changes nothing', async () => {
    const before = authority.authorities().map((a) => `${a.id}:${a.state}`);
    const err = await call(clients.alice, (c) => c.taintAuthority({ id: 'NOT-HEX', reason: 'x' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_USAGE' });
    expect(authority.authorities().map((a) => `${a.id}:${a.state}`)).toEqual(before);
    expect(adminEvents('TaintAuthority').at(-1)).toMatchObject({ caller: ALICE, outcome: 'error', code: 'ERR_USAGE' });
  });

  it('tells the server-auth-only certificate apart by OpenSSL\'s verdict', async () => {
    const err = await call(clients.serverAuthOnly, (c) => c.getAuthorityStatus()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UNAUTHENTICATED', details: { reason: 'chain-invalid' } });
    expect(String((err as Error).message)).toMatch(/INVALID_PURPOSE|unsuitable certificate purpose/i);
  });

  /** The key reaches the CLI through a FIFO that a child process writes: never a file on disk. */
  let fifos = 0;
  function keyFifo(keyPem: string): string {
    const fifo = path.join(dir, `key-${fifos++}.fifo`);
    execFileSync('mkfifo', ['-m', '600', fifo]);
    // From the child's environment, not its stdin: the CLI reads the FIFO synchronously, so this process cannot feed a pipe meanwhile.
    spawn('sh', ['-c', 'printf %s "$KEY" > "$0"', fifo], { stdio: 'ignore', env: { KEY: keyPem } }).unref();
    return fifo;
  }
  async function cli(args: string[], env: Record<string, string> = {}) {
    let stdout = '';
    const program = new Command('workload-ca').exitOverride();
    registerAuthorityCommand(program, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true } });
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      await program.parseAsync(['node', 'workload-ca', ...args]);
      return { stdout, exit: 0 };
    } catch (err) {
      return { stdout, exit: exitCodeOf(err), err };
    } finally {
      process.env = saved;
    }
  }

  it('the CLI reaches it with --server --cert --key --ca (or WORKLOAD_CA_* variables), and exits "denied" when refused', async () => {
    const caFile = path.join(dir, 'server-root.crt');
    await writeFile(caFile, serverRoot.certPem);
    const certOf = async (name: 'alice' | 'mallory') => {
      const file = path.join(dir, `${name}.crt`);
      await writeFile(file, clients[name].certPem);
      return file;
    };
    const ok = await cli(['authority', 'show', '-o', 'json', '--server', admin.tcpAddress!, '--cert', await certOf('alice'), '--key', keyFifo(clients.alice.keyPem), '--ca', caFile]);
    expect(ok.exit).toBe(0);
    expect((JSON.parse(ok.stdout) as { authorities: unknown[] }).authorities.length).toBeGreaterThan(0);

    const denied = await cli(['authority', 'show'], {
      WORKLOAD_CA_ADDR: admin.tcpAddress!,
      WORKLOAD_CA_CLIENT_CERT: await certOf('mallory'),
      WORKLOAD_CA_CLIENT_KEY: keyFifo(clients.mallory.keyPem),
      WORKLOAD_CA_CACERT: caFile,
    });
    expect(denied).toMatchObject({ exit: ExitCode.DENIED, stdout: '', err: { code: 'ERR_PERMISSION_DENIED' } });

    const noKey = await cli(['authority', 'show', '--server', admin.tcpAddress!, '--cert', await certOf('alice'), '--ca', caFile]);
    expect(noKey).toMatchObject({ exit: ExitCode.USAGE, err: { code: 'ERR_USAGE' } });
  });

  it('caps connections per address from the accept on, and drops handshakes that never finish', async () => {
    const [host, port] = [admin.tcpAddress!.split(':')[0]!, Number(admin.tcpAddress!.split(':')[1])];
    const idle = await Promise.all(
      Array.from({ length: 6 }, () => new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host, port }, () => resolve(s));
        s.on('error', reject);
      })),
    );
    const closed = idle.map((s) => new Promise<number>((resolve) => s.once('close', () => resolve(Date.now()))));
    const started = Date.now();
    const times = await Promise.all(closed);
    // Two over the cap of 4 go at once; the other four when the 1 s handshake timeout fires.
    expect(times.filter((t) => t - started < 500).length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...times) - started).toBeLessThan(10_000);
    // A real client still gets through.
    expect((await call(clients.alice, (c) => c.getAuthorityStatus())).authorities.length).toBeGreaterThan(0);
  });

  it('never completes a TLS session for a client that does not trust the server (no downgrade)', async () => {
    const [host, port] = [admin.tcpAddress!.split(':')[0]!, Number(admin.tcpAddress!.split(':')[1])];
    const err = await new Promise<Error>((resolve) => {
      const s = tls.connect({ host, port, ca: clients.alice.certPem, ALPNProtocols: ['h2'] });
      s.once('secureConnect', () => resolve(new Error('connected')));
      s.once('error', resolve);
    });
    expect((err as NodeJS.ErrnoException).code).not.toBeUndefined();
  });
});

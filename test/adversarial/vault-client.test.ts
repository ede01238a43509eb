/**
 * The Vault HTTP client (plugins/vault/client.ts) against a HOSTILE fake Vault,
 * for what a real server cannot be made to do: redirect to another host,
 * trickle or stream an endless answer, echo secrets and terminal escapes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVaultClient } from '../../plugins/vault/client.js';
import { limits } from '../../src/limits.js';
import { isWcaError, type WcaError } from '../../src/errors.js';
import { HostileVault, type HostileMode } from '../fakes/hostile-vault.js';
import { runUpstreamCheck } from '../../src/cli/commands/upstream.js';
import { cliEntry } from '../helpers/test-build.js';

const token = 'hvs.CAHsecretTOKENvalue0123456789abcdefXYZ';
const secretId = 'b1946ac9-2e4f-47c1-9c5c-SECRET-ID-0042';

async function failure(work: Promise<unknown>): Promise<WcaError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isWcaError(err)) throw new Error(`expected a WcaError, got ${String(err)}`);
  return err;
}

describe('Vault client against a HOSTILE fake Vault', () => {
  const servers: HostileVault[] = [];
  const start = async (mode: HostileMode) => {
    const s = await new HostileVault(mode).start();
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });

  it.each([301, 302, 303, 307, 308])('a %i redirect is refused, never followed: the token and login body never reach the other host', async (status) => {
    const attacker = await start({ kind: 'answer', status: 200, body: '{"data":{"ttl":0,"policies":["root"]}}' });
    const vault = await start({ kind: 'redirect', status, location: `${attacker.url}/v1/steal` });
    const client = createVaultClient({ address: vault.url, timeoutMs: 5000 });

    const read = await failure(client.read('auth/token/lookup-self', { operation: 'token', token }));
    expect(read.code).toBe('ERR_UPSTREAM_BAD_RESPONSE');
    expect(read.message).toContain(`HTTP ${status}`);
    expect(read.message).toContain(`${attacker.url}/v1/steal`);
    const login = await failure(client.write('auth/approle/login', { role_id: 'r', secret_id: secretId }, { operation: 'login' }));
    expect(login.code).toBe('ERR_UPSTREAM_BAD_RESPONSE');

    expect(vault.requests).toHaveLength(2);
    expect(attacker.requests).toHaveLength(0);
  });

  it('a trickling answer ends at requestTimeoutMs in total, and the socket is closed', async () => {
    const vault = await start({ kind: 'trickle', intervalMs: 50 });
    const client = createVaultClient({ address: vault.url, timeoutMs: 500 });
    const started = Date.now();
    const err = await failure(client.write('transit/sign/k', { input: 'x' }, { operation: 'pki', token }));
    expect(err.code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
    await expect.poll(() => vault.openStreams, { timeout: 5000 }).toBe(0);
  });

  it('the caller signal aborts the call and closes the socket', async () => {
    const vault = await start({ kind: 'trickle', intervalMs: 50 });
    const client = createVaultClient({ address: vault.url, timeoutMs: 60_000 });
    const err = await failure(client.read('pki/issuer/default', { operation: 'pki', token, signal: AbortSignal.timeout(300) }));
    expect(err.code).toBe('ERR_UPSTREAM_TIMEOUT');
    await expect.poll(() => vault.openStreams, { timeout: 5000 }).toBe(0);
  });

  it(`an endless answer is cut after ${limits.upstreamResponseMaxBytes} bytes: ERR_UPSTREAM_BAD_RESPONSE, memory bounded`, async () => {
    const vault = await start({ kind: 'endless' });
    const client = createVaultClient({ address: vault.url, timeoutMs: 20_000 });
    const before = process.memoryUsage().rss;
    const err = await failure(client.read('pki/issuer/default', { operation: 'pki', token }));
    expect(err.code).toBe('ERR_UPSTREAM_BAD_RESPONSE');
    expect(err.message).toContain(`larger than ${limits.upstreamResponseMaxBytes} bytes`);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    await expect.poll(() => vault.openStreams, { timeout: 5000 }).toBe(0);
  });

  it('error texts lose echoed tokens, secret IDs and terminal escapes', async () => {
    const errors = [`permission denied for ${token}\u001b]0;pwned\u0007`, `bad secret_id ${secretId}\u001b[2J`];
    const vault = await start({ kind: 'answer', status: 403, body: JSON.stringify({ errors }) });
    const client = createVaultClient({ address: vault.url, timeoutMs: 5000 });
    const calls = [
      () => client.read('auth/token/lookup-self', { operation: 'token', token }),
      () => client.write('auth/approle/login', { role_id: 'r', secret_id: secretId }, { operation: 'login' }),
    ];
    for (const [i, call] of calls.entries()) {
      const err = await failure(call());
      expect(err.message).toContain(i === 0 ? 'permission denied for [redacted]' : 'bad secret_id [redacted]');
      expect(err.code).toBe('ERR_UPSTREAM_AUTH');
      const all = err.message + JSON.stringify(err.details);
      // Each call's own secret is removed; the other one was never sent, so nothing here knows it.
      expect(all).not.toContain(i === 0 ? token : secretId);
      expect(all).not.toMatch(/[\u0000-\u001f]/);
    }
  });
});

describe('upstream check against a trickling HOSTILE fake Vault', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  let vault: HostileVault;
  let dir: string;
  beforeAll(async () => {
    vault = await new HostileVault({ kind: 'trickle', intervalMs: 100 }).start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'wca-hostile-vault-'));
  });
  afterAll(async () => {
    await vault?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits with a timeout soon after requestTimeoutMs instead of hanging on the open socket', async () => {
    const config = path.join(dir, 'wca.yaml');
    // The trickle never ends, so any deadline shows the defence; 300 ms rather than 1 s keeps the wait short.
    await writeFile(config, `log: { level: silent }\nupstream:\n  plugin: vault\n  config:\n    address: ${vault.url}\n    requestTimeoutMs: 300\n    auth: { method: token }\n`);
    const started = Date.now();
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [cliEntry, 'upstream', 'check', '-c', config],
        { cwd: root, timeout: 25_000, env: { ...process.env, VAULT_TOKEN: token } },
        (_err, stdout) => resolve({ code: child.exitCode, stdout }),
      );
    });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stdout).toMatch(/no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});

describe('upstream check prints what a HOSTILE fake Vault says only escaped', () => {
  let vault: HostileVault;
  let dir: string;
  beforeAll(async () => {
    const policies = ['default', '\u001b]0;owned\u0007\u001b[2Jroot', `echo ${token}`];
    vault = await new HostileVault({ kind: 'answer', status: 200, body: JSON.stringify({ data: { ttl: 0, renewable: false, policies } }) }).start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'wca-hostile-vault-'));
  });
  afterAll(async () => {
    await vault?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('terminal escapes in policy names are written as \\u escapes, the token never', async () => {
    const config = path.join(dir, 'wca.yaml');
    await writeFile(config, `log: { level: silent }\nupstream:\n  plugin: vault\n  config:\n    address: ${vault.url}\n    auth: { method: token }\n`);
    let text = '';
    await runUpstreamCheck({ config, env: { VAULT_TOKEN: token }, out: { write: (s: string) => (text += s) } }).catch(() => undefined);
    expect(text).toContain('policies default,\\u001b]0;owned');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(text).not.toContain(token);
  });
});

import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { isWcaError, WcaError } from '../../src/errors.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { capturingLogger } from '../fakes/upstream-ca.js';
import { leaveStaleSocket } from '../helpers/stale-socket.js';

let dir: string;
let server: AdminServer;
let client: AdminClient;
const store = new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 24 * 3600 });
const logs = capturingLogger();

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-admin-'));
  server = await startAdminServer({ joinTokens: store, logger: logs.logger, listen: { kind: 'unix', path: path.join(dir, 'admin.sock') } });
  client = connectAdmin(server.path);
});
afterAll(async () => {
  client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const ok = { spiffe_id: 'spiffe://cluster.local/vm/db-1', dns_names: ['db-1.vm.internal'], ttl_seconds: 900 };

describe('admin API over a Unix socket', () => {
  it('listens on a socket only its owner may open (mode 0600)', async () => {
    const s = await stat(server.path);
    expect(s.isSocket()).toBe(true);
    expect(s.mode & 0o777).toBe(0o600);
  });

  it('creates a join token the store accepts once, and never logs the token', async () => {
    const created = await client.createJoinToken(ok);
    expect(created).toMatchObject({
      token: expect.stringMatching(/^wcajt_/),
      token_id: expect.stringMatching(/^[0-9a-f]{16}$/),
      spiffe_id: ok.spiffe_id,
      dns_names: ok.dns_names,
      expires_at: '2026-01-01T00:15:00.000Z',
    });
    expect(await store.consume(created.token, 'test')).toEqual({ id: created.token_id, spiffeId: ok.spiffe_id, dnsNames: ok.dns_names });
    expect(logs.text()).toContain(created.token_id);
    expect(logs.text()).not.toContain(created.token);
  });

  it.each([
    ['no SPIFFE ID', { ...ok, spiffe_id: '' }, 'ERR_USAGE', 3, /spiffe_id: is required/],
    ['no TTL', { ...ok, ttl_seconds: 0 }, 'ERR_USAGE', 3, /ttl_seconds: is required/],
    ['a TTL above the maximum', { ...ok, ttl_seconds: 7 * 86400 }, 'ERR_TTL_INVALID', 3, /between 1 s and 86400 s/],
    ['a foreign trust domain', { ...ok, spiffe_id: 'spiffe://evil.org/vm/db-1' }, 'ERR_TRUST_DOMAIN_MISMATCH', 7, /not in trust domain "cluster.local"/],
    ['a malformed SPIFFE ID', { ...ok, spiffe_id: 'https://cluster.local/vm' }, 'ERR_SPIFFE_ID_INVALID', 3, /must start with "spiffe:\/\/"/],
    ['a bad DNS name', { ...ok, dns_names: ['-bad-.example'] }, 'ERR_DNS_NAME_INVALID', 3, /invalid DNS name "-bad-.example"/],
    ['33 DNS names', { ...ok, dns_names: Array.from({ length: 33 }, (_, i) => `h${i}.example`) }, 'ERR_USAGE', 3, /dns_names: /],
  ])('refuses %s with a clear error and keeps serving', async (_name, request, code, grpcStatus, message) => {
    const err = await client.createJoinToken(request).catch((e: unknown) => e);
    expect(isWcaError(err)).toBe(true);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
    expect((err as WcaError).grpcStatus).toBe(grpcStatus);
    expect((await client.createJoinToken(ok)).spiffe_id).toBe(ok.spiffe_id);
  });

  it('refuses to start on a path that is a regular file, and leaves the file alone', async () => {
    const file = path.join(dir, 'precious.txt');
    await writeFile(file, 'data');
    await expect(startAdminServer({ joinTokens: store, logger: logs.logger, listen: { kind: 'unix', path: file } })).rejects.toThrow(
      /exists and is not a socket/,
    );
    expect(await readFile(file, 'utf8')).toBe('data');
  });

  it('refuses to take over a live socket, but replaces a stale one', async () => {
    await expect(startAdminServer({ joinTokens: store, logger: logs.logger, listen: { kind: 'unix', path: server.path } })).rejects.toMatchObject({
      code: 'ERR_LISTEN_ADDRESS',
      message: expect.stringMatching(/in use by another process/),
    });
    const stale = path.join(dir, 'stale.sock');
    await leaveStaleSocket(stale);
    expect((await stat(stale)).isSocket()).toBe(true);
    const second = await startAdminServer({ joinTokens: store, logger: logs.logger, listen: { kind: 'unix', path: stale } }).catch((e: unknown) => e);
    if (second instanceof Error) throw second;
    const other = connectAdmin(stale);
    try {
      expect((await other.createJoinToken(ok)).token).toMatch(/^wcajt_/);
    } finally {
      other.close();
      await (second as AdminServer).close();
    }
    await expect(stat(stale)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../fakes/fake-clock.js';
import { mintAndValidate, rejectionOf, trustDomain } from '../../fakes/mint.js';
import type { FakeVaultOptions, FakeVaultServer } from '../../fakes/vault-server.js';
import { provesEndToEnd } from '../../upstream/leaf-check.js';
import { useVaultSuite, type Harness } from './harness.js';

const approle = { roleId: 'role-1234', secretId: 'approle-secret-0f9e8d7c', tokenTtlSeconds: 60, tokenMaxTtlSeconds: 150 };
const jwt = 'eyJhbGciOiJSUzI1NiJ9.k8s-service-account-jwt.sig';
/** Background renewals finish on their own time; generous for a loaded CI machine. */
const settle = { timeout: 15_000, interval: 5 };

describe('vault plugin against a local server following the Vault HTTP API', () => {
  const suite = useVaultSuite();
  let server: FakeVaultServer;
  let harness: Harness;

  async function startServer(options: Partial<FakeVaultOptions> = {}) {
    server = await suite.startServer({ approle, kubernetes: { role: 'workload-ca', jwt, tokenTtlSeconds: 300 }, ...options });
    return server;
  }

  it('token auth: mints an intermediate that validates, verifies with openssl and completes a TLS handshake', async () => {
    await startServer();
    const token = server.addToken({ ttlSeconds: 0 });
    harness = await suite.createVault({ address: server.url, auth: { method: 'token' } }, { VAULT_TOKEN: token });

    const { csr, result, validate } = await mintAndValidate(harness.authority);
    const validated = validate();
    expect(validated.truncated).toBe(false);
    expect(result.upstreamChainPem).toHaveLength(1); // Vault's issuing sub-CA; the root goes to rootsPem
    expect(result.rootsPem.map((p) => p.trim())).toEqual([suite.ca.rootPem.trim()]);
    const proof = await provesEndToEnd(csr.keys, validated, trustDomain);
    expect(proof.opensslOutput).toContain('OK');
    expect(proof.clientSawServer).toBe(`spiffe://${trustDomain}/server`);

    const sign = server.requests.find((r) => r.path === 'pki/root/sign-intermediate')!;
    expect(sign.headers['x-vault-token']).toBe(token);
    expect(sign.body).toMatchObject({
      csr: csr.csrPem,
      common_name: `${trustDomain} intermediate`,
      uri_sans: `spiffe://${trustDomain}`,
      ttl: '3600s',
      format: 'pem',
      max_path_length: 0,
    });
  });

  it('signs with a named issuer in a namespace and reads roots from the issuer JSON endpoint', async () => {
    await startServer({ pkiMount: 'pki-int', issuers: ['mesh'], namespace: 'team-a' });
    const token = server.addToken();
    harness = await suite.createVault(
      { address: server.url, namespace: 'team-a', pkiMount: 'pki-int', issuerRef: 'mesh', auth: { method: 'token', token: { env: 'MY_TOKEN' } } },
      { MY_TOKEN: token },
    );
    const { validate } = await mintAndValidate(harness.authority);
    validate();
    const roots = await harness.authority.fetchRoots!();
    expect(roots.map((p) => p.trim())).toEqual([suite.ca.rootPem.trim()]);
    expect(server.requests.map((r) => r.path)).toEqual(['auth/token/lookup-self', 'pki-int/issuer/mesh/sign-intermediate', 'pki-int/issuer/mesh/json']);
    expect(server.requests.every((r) => r.headers['x-vault-namespace'] === 'team-a')).toBe(true);
    // The issuer endpoint is unauthenticated: roots are fetched without a token.
    expect(server.requests.at(-1)!.headers['x-vault-token']).toBeUndefined();
  });

  it('reads roots of the default issuer from <mount>/cert/ca_chain', async () => {
    await startServer();
    harness = await suite.createVault({ address: server.url, auth: { method: 'token' } }, { VAULT_TOKEN: server.addToken() });
    const roots = await harness.authority.fetchRoots!();
    expect(roots.map((p) => p.trim())).toEqual([suite.ca.rootPem.trim()]);
    expect(server.requests.map((r) => r.path)).toEqual(['pki/cert/ca_chain']);
  });

  it('AppRole: logs in, renews at 2/3 of the TTL, and logs in again once renewal is capped by the max TTL', async () => {
    const clock = new FakeClock(Date.now());
    await startServer({ now: () => clock.now() }); // token lifetimes run on the same fake clock
    const secretFile = path.join(suite.dir, 'secret-id');
    await writeFile(secretFile, `${approle.secretId}\n`);
    harness = await suite.createVault(
      { address: server.url, auth: { method: 'approle', roleId: approle.roleId, secretId: { file: secretFile } } },
      {},
      clock,
    );
    await mintAndValidate(harness.authority);
    expect(server.count(/^auth\/approle\/login$/)).toBe(1);
    expect(server.requests[0]!.body).toEqual({ role_id: approle.roleId, secret_id: approle.secretId });
    const firstToken = server.requests[1]!.headers['x-vault-token'];

    // 40s = 2/3 of 60s: first renewal; the max TTL (150s) leaves room for a full 60s.
    clock.advance(40_000);
    await vi.waitFor(() => expect(server.count(/renew-self/)).toBe(1), settle);
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1), settle);
    expect(server.requests.at(-1)!.headers['x-vault-token']).toBe(firstToken);
    clock.advance(40_000);
    await vi.waitFor(() => expect(server.count(/renew-self/)).toBe(2), settle);
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1), settle);
    // At 120s only 30s remain before the max TTL: Vault caps the renewal, the plugin logs in again.
    clock.advance(40_000);
    await vi.waitFor(() => expect(server.count(/^auth\/approle\/login$/)).toBe(2), settle);
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1), settle);

    await mintAndValidate(harness.authority);
    const signs = server.requests.filter((r) => r.path.endsWith('sign-intermediate'));
    expect(signs).toHaveLength(2);
    expect(signs[1]!.headers['x-vault-token']).not.toBe(firstToken);
    expect(server.tokens.has(signs[1]!.headers['x-vault-token'] as string)).toBe(true);
    expect(harness.logText()).not.toContain(approle.secretId);
  });

  it('AppRole: a refused renewal leads to a fresh login, not an outage', async () => {
    await startServer();
    harness = await suite.createVault(
      { address: server.url, auth: { method: 'approle', roleId: approle.roleId } },
      { VAULT_APPROLE_SECRET_ID: approle.secretId },
    );
    await mintAndValidate(harness.authority);
    server.overrides.push({ match: /renew-self/, response: { status: 403, errors: ['permission denied'] }, times: 1 });
    harness.clock.advance(40_000);
    await vi.waitFor(() => expect(server.count(/^auth\/approle\/login$/)).toBe(2), settle);
    await mintAndValidate(harness.authority);
    expect(harness.logText()).toContain('token renewal failed');
  });

  it('Kubernetes: logs in with the role and the service account JWT read from its file', async () => {
    await startServer();
    const jwtFile = path.join(suite.dir, 'sa-token');
    await writeFile(jwtFile, jwt);
    harness = await suite.createVault({ address: server.url, auth: { method: 'kubernetes', role: 'workload-ca', jwtFile } });
    const { validate } = await mintAndValidate(harness.authority);
    validate();
    expect(server.requests[0]).toMatchObject({ path: 'auth/kubernetes/login', body: { role: 'workload-ca', jwt } });
  });

  it('Kubernetes: a rejected JWT is ERR_UPSTREAM_AUTH naming Vault\'s reason, without the JWT', async () => {
    await startServer();
    const jwtFile = path.join(suite.dir, 'bad-sa-token');
    await writeFile(jwtFile, 'eyJ.not-the-right-jwt.sig');
    harness = await suite.createVault({ address: server.url, auth: { method: 'kubernetes', role: 'workload-ca', jwtFile } });
    const err = await rejectionOf(mintAndValidate(harness.authority));
    expect(err.code).toBe('ERR_UPSTREAM_AUTH');
    expect(err.message).toContain('auth/kubernetes/login returned HTTP 403: permission denied');
    expect(JSON.stringify(err) + err.message).not.toContain('not-the-right-jwt');
  });

  it.each([
    ['a wrong AppRole secret ID', { method: 'approle', roleId: approle.roleId } as const, { VAULT_APPROLE_SECRET_ID: 'wrong-secret-id-55aa' }, 'invalid role or secret ID', 'wrong-secret-id-55aa'],
    ['an unknown Vault token', { method: 'token' } as const, { VAULT_TOKEN: 'hvs.unknown-token-0000' }, 'permission denied', 'hvs.unknown-token-0000'],
  ])('bad credentials (%s): ERR_UPSTREAM_AUTH, the secret appears in no error or log', async (_name, auth, env, vaultText, secret) => {
    await startServer();
    harness = await suite.createVault({ address: server.url, auth }, env);
    const err = await rejectionOf(mintAndValidate(harness.authority));
    expect(err.code).toBe('ERR_UPSTREAM_AUTH');
    expect(err.message).toContain(vaultText);
    for (const text of [err.message, JSON.stringify(err), String(err.stack), harness.logText()]) expect(text).not.toContain(secret);
    expect(server.count(/sign-intermediate/)).toBe(0);
  });

  it.each([
    ['environment variable', { method: 'token' } as const, 'config.auth.token.env: environment variable VAULT_TOKEN is not set'],
    ['file', { method: 'approle', roleId: 'r', secretId: { file: '/nonexistent/secret-id' } } as const, 'config.auth.secretId.file: cannot read /nonexistent/secret-id (ENOENT)'],
  ])('a missing secret (%s) is ERR_UPSTREAM_CONFIG naming the field', async (_name, auth, message) => {
    await startServer();
    harness = await suite.createVault({ address: server.url, auth });
    const err = await rejectionOf(mintAndValidate(harness.authority));
    expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
    expect(err.message).toContain(message);
    expect(server.requests).toHaveLength(0);
  });
});

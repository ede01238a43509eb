/**
 * What a real OpenBao cannot be made to do, against the FakeVaultServer: hang,
 * throttle, answer garbage or a wrong chain, ignore X-Vault-Namespace (Vault
 * Community Edition), or sign past its issuer's end (OpenBao 2.7.2 does, but the
 * plugin never asks it to: the answer is replayed from a real one). Everything
 * else runs against a real server in openbao-*.test.ts.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaCsr, createTestRootCa, type Misbehaviour } from '../../fakes/upstream-ca.js';
import { mintAndValidate, rejectionOf, trustDomain } from '../../fakes/mint.js';
import type { FakeVaultOptions, FakeVaultServer } from '../../fakes/vault-server.js';
import { hasTools } from '../../helpers/tools.js';
import { realTime, useVaultSuite } from './harness.js';
import { OpenBao } from './openbao.js';

describe('vault plugin against a FAKE Vault, for what a real server cannot be made to do', () => {
  const suite = useVaultSuite();
  let server: FakeVaultServer;
  let token: string;

  async function setup(options: Partial<FakeVaultOptions> = {}, config: Record<string, unknown> = {}) {
    server = await suite.startServer(options);
    token = server.addToken({ ttlSeconds: 0 });
    return suite.createVault({ address: server.url, auth: { method: 'token' }, ...config }, { VAULT_TOKEN: token });
  }

  it('a sub-second lease (which OpenBao cannot grant) does not become a login storm: logins back off', async () => {
    const approle = { roleId: 'role-storm', secretId: 'secret-id-storm-0123456789', tokenTtlSeconds: 0.001, tokenMaxTtlSeconds: 0 };
    server = await suite.startServer({ approle });
    const { authority } = await suite.createVault(
      { address: server.url, auth: { method: 'approle', roleId: approle.roleId } },
      { VAULT_APPROLE_SECRET_ID: approle.secretId },
      realTime,
    );
    await rejectionOf(mintAndValidate(authority));
    const again = await rejectionOf(mintAndValidate(authority));
    expect(again.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(again).toMatchObject({ details: { reason: 'login-backoff' } });
    await new Promise((r) => setTimeout(r, 2000));
    // Without the backoff and the minimum renewal delay: hundreds of logins in these 2 s.
    expect(server.count(/approle\/login$/)).toBeLessThanOrEqual(4);
  });

  it.each([-1, 1e12, '3600'])('a lease_duration of %j is ERR_UPSTREAM_BAD_RESPONSE', async (lease) => {
    server = await suite.startServer({ approle: { roleId: 'r', secretId: 's', tokenTtlSeconds: 3600, tokenMaxTtlSeconds: 0 } });
    server.overrides.push({ match: /approle\/login$/, response: { status: 200, raw: JSON.stringify({ auth: { client_token: 'hvs.x', lease_duration: lease, renewable: true } }) }, times: 1 });
    const { authority } = await suite.createVault({ address: server.url, auth: { method: 'approle', roleId: 'r' } }, { VAULT_APPROLE_SECRET_ID: 's' });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_BAD_RESPONSE');
    expect(err.message).toContain('auth.lease_duration');
  });

  it('HTTP 429 (a rate-limit quota) is ERR_UPSTREAM_THROTTLED, one call, no retry in the plugin', async () => {
    const { authority } = await setup();
    const errors = ['request path "pki/root/sign-intermediate": rate limit quota exceeded'];
    server.overrides.push({ match: /sign-intermediate$/, response: { status: 429, errors }, times: 1 });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_THROTTLED');
    expect(err.message).toBe(`vault: pki/root/sign-intermediate returned HTTP 429: ${errors[0]}`);
    expect(err.message + JSON.stringify(err)).not.toContain(token);
    expect(server.count(/sign-intermediate$/)).toBe(1);
  });

  it('a multi-line error text of any length becomes one bounded line', async () => {
    const { authority } = await setup();
    const long = `2 errors occurred:\n\t* first\n\t* ${'x'.repeat(5000)}\n\n`;
    server.overrides.push({ match: /sign-intermediate$/, response: { status: 500, errors: [long, ...Array(50).fill('more')] }, times: 1 });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(err.message).toMatch(/returned HTTP 500: first; x+…; more; more/);
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(600 + 10 * 10);
  });

  it.each([
    ['a 200 answer without data.certificate', '{"data":{"issuing_ca":"x"}}', 'answer has no data.certificate'],
    ['a 200 answer that is not JSON', '<html>proxy error</html>', 'answer is not a JSON object'],
    ['a ca_chain that is not PEM', '{"data":{"certificate":"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----","ca_chain":["-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----"]}}', 'is not a valid X.509 certificate'],
  ])('%s is ERR_UPSTREAM_BAD_RESPONSE', async (_name, raw, message) => {
    const { authority } = await setup();
    server.overrides.push({ match: /sign-intermediate$/, response: { status: 200, raw }, times: 1 });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_BAD_RESPONSE');
    expect(err.message).toContain(message);
  });

  it.each<[Misbehaviour | 'foreign-root', RegExp]>([
    ['not-a-ca', /is not a CA certificate/],
    ['other-key', /certifies a different public key/],
    ['wrong-issuer', /is not signed by/],
    ['foreign-root', /does not chain to any of the 1 upstream root/],
  ])('a misbehaving Vault (%s) is rejected by validation with ERR_UPSTREAM_CHAIN', async (misbehaviour, message) => {
    const { authority } = await setup();
    if (misbehaviour === 'foreign-root') server.foreignRootPem = (await createTestRootCa({ name: 'Someone else' })).rootPem;
    else server.misbehave = misbehaviour;
    const { validate } = await mintAndValidate(authority);
    const err = await rejectionOf(Promise.resolve().then(validate));
    expect(err.code).toBe('ERR_UPSTREAM_CHAIN');
    expect(err.message).toMatch(message);
  });

  it('the notes every mint gets are not returned as warnings; the fake sends them as a real server does', async () => {
    const { authority } = await setup();
    const { result, validate } = await mintAndValidate(authority);
    expect(result.warnings).toBeUndefined();
    expect(validate().chainPem).toHaveLength(2); // ours + the fake's issuing sub-CA; ours was first in ca_chain
  });

  it('a Vault that ignores X-Vault-Namespace (Community Edition) is a configuration error before any login', async () => {
    const { authority } = await setup({ ignoresNamespace: true }, { namespace: 'team-a' });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
    expect((err as { details?: { reason?: string } }).details?.reason).toBe('namespace-ignored');
    expect(err.message).toContain('ignores X-Vault-Namespace');
    expect(server.count(/lookup-self|sign-intermediate/)).toBe(0);
  });

  it('a Vault that never answers: ERR_UPSTREAM_TIMEOUT after requestTimeoutMs, naming the address', async () => {
    const { authority } = await setup({}, { requestTimeoutMs: 300 });
    server.hang = /sign-intermediate$/;
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(err.message).toContain(`pki/root/sign-intermediate at ${server.url} got no answer within 300 ms`);
  });

  it('a caller abort ends a hanging call with ERR_UPSTREAM_TIMEOUT', async () => {
    const { authority } = await setup();
    server.hang = /sign-intermediate$/;
    const controller = new AbortController();
    const csr = await createCaCsr(trustDomain);
    const pending = authority.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds: 3600 }, controller.signal);
    const seen = setInterval(() => server.count(/sign-intermediate$/) > 0 && controller.abort(), 5);
    const err = await rejectionOf(pending).finally(() => clearInterval(seen));
    expect(err.code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(err.message).toContain('aborted by the caller');
  });

  it('an address where nothing listens: ERR_UPSTREAM_UNAVAILABLE naming the address, without its password', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    // A user:password part of the address (a proxy's basic auth) is never shown.
    const { authority } = await suite.createVault({ address: `http://proxy:pa55word@127.0.0.1:${port}`, auth: { method: 'token' } }, { VAULT_TOKEN: 'hvs.some-token' });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(err.message).toContain(`cannot reach Vault at http://127.0.0.1:${port} for`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message + JSON.stringify(err)).not.toContain('pa55word');
  });

  it('a chain without a self-signed root anywhere is ERR_UPSTREAM_CHAIN', async () => {
    const { authority } = await setup();
    // An issuer whose chain stops at an intermediate: Vault knows no root for it.
    const onlyIssuer = JSON.stringify({ data: { ca_chain: [suite.ca.chainPem[0]] } });
    server.overrides.push({ match: /cert\/ca_chain$/, response: { status: 200, raw: onlyIssuer }, times: 1 });
    const err = await rejectionOf(authority.fetchRoots!());
    expect(err.code).toBe('ERR_UPSTREAM_CHAIN');
    expect(err.message).toContain('does not reach a self-signed root');
  });

  describe.runIf(hasTools('bao'))('an intermediate that outlives its issuer (a real OpenBao 2.7.2 answer, replayed)', () => {
    let bao: OpenBao;
    let signAnswer: string;
    let issuerAnswer: string;
    beforeAll(async () => {
      bao = await OpenBao.start();
      await bao.rootMount('pki', { ttl: '2h' });
      const csr = await createCaCsr(trustDomain);
      // Asked directly, without the plugin's cut to the issuer's life: OpenBao signs 10 h under a 2 h root.
      const signed = await bao.admin('POST', 'pki/root/sign-intermediate', { csr: csr.csrPem, common_name: 'x', ttl: '36000s', max_path_length: 0, format: 'pem' });
      expect(signed.body.warnings[0]).toMatch(/^The expiration time for the signed certificate is after the CA's expiration time/);
      signAnswer = signed.raw;
      issuerAnswer = (await bao.call('GET', 'pki/cert/ca_chain')).raw;
    });
    afterAll(async () => {
      await bao?.stop();
    });

    it('is refused with ERR_UPSTREAM_CHAIN naming both ends, never returned for use', async () => {
      const { authority } = await setup();
      server.overrides.push({ match: /sign-intermediate$/, response: { status: 200, raw: signAnswer }, times: 1 });
      server.overrides.push({ match: /cert\/ca_chain$/, response: { status: 200, raw: issuerAnswer }, times: 1 });
      const err = await rejectionOf(mintAndValidate(authority, { ttlSeconds: 600 }));
      expect(err.code).toBe('ERR_UPSTREAM_CHAIN');
      expect(err.message).toMatch(/returned an intermediate valid until .*, after its issuer's chain ends \(.*\); refusing/);
    });
  });
});

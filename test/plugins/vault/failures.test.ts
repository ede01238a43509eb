import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCaCsr, createTestRootCa, type Misbehaviour } from '../../fakes/upstream-ca.js';
import { mintAndValidate, rejectionOf, trustDomain } from '../../fakes/mint.js';
import type { FakeVaultOptions, FakeVaultServer } from '../../fakes/vault-server.js';
import { useVaultSuite } from './harness.js';

const run = promisify(execFile);

describe('vault plugin failures against a local server following the Vault HTTP API', () => {
  const suite = useVaultSuite();
  let server: FakeVaultServer;
  let token: string;

  async function setup(options: Partial<FakeVaultOptions> = {}, config: Record<string, unknown> = {}) {
    server = await suite.startServer(options);
    token = server.addToken({ ttlSeconds: 0 });
    return suite.createVault({ address: server.url, auth: { method: 'token' }, ...config }, { VAULT_TOKEN: token });
  }

  it.each([
    [400, 'ERR_UPSTREAM_CONFIG', ['unable to find PKI issuer for reference: mesh']],
    [403, 'ERR_UPSTREAM_DENIED', ['permission denied']],
    [429, 'ERR_UPSTREAM_THROTTLED', ['request path "pki/root/sign-intermediate": rate limit quota exceeded']],
    [500, 'ERR_UPSTREAM_UNAVAILABLE', ['1 error occurred:\n\t* internal error\n\n']],
    [503, 'ERR_UPSTREAM_UNAVAILABLE', ['Vault is sealed']],
  ])('HTTP %i with a Vault {"errors": [...]} body → %s, Vault\'s text in the message', async (status, code, errors) => {
    const { authority } = await setup();
    server.overrides.push({ match: /sign-intermediate$/, response: { status, errors }, times: 1 });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe(code);
    expect(err.message).toContain(`pki/root/sign-intermediate returned HTTP ${status}: ${errors[0]}`);
    expect(err.message + JSON.stringify(err)).not.toContain(token);
    // One call: retries and their backoff belong to the core, not to the plugin.
    expect(server.count(/sign-intermediate$/)).toBe(1);
  });

  it('a valid token whose policy lacks sign-intermediate: ERR_UPSTREAM_DENIED, no retry', async () => {
    server = await suite.startServer();
    const readOnly = server.addToken({ canSign: false });
    const { authority } = await suite.createVault({ address: server.url, auth: { method: 'token' } }, { VAULT_TOKEN: readOnly });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_DENIED');
    expect(err.message).toBe('vault: pki/root/sign-intermediate returned HTTP 403: permission denied');
    expect(server.count(/sign-intermediate$/)).toBe(1);
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

  it('a TTL clamped by the mount max TTL: Vault\'s warning is logged and returned, validation reports truncation', async () => {
    const { authority, logText } = await setup({ maxTtlSeconds: 1800 });
    const { result, validate } = await mintAndValidate(authority, { ttlSeconds: 3600 });
    const warning = 'TTL "3600s" is longer than permitted maxTTL "1800s", so maxTTL is being used';
    expect(result.warnings).toEqual([warning]);
    expect(logText()).toContain(JSON.stringify(warning));
    const validated = validate();
    expect(validated.truncated).toBe(true);
    expect(validated.warnings.some((w) => w.startsWith('intermediate truncated'))).toBe(true);
  });

  it('a Vault that never answers: ERR_UPSTREAM_TIMEOUT after requestTimeoutMs', async () => {
    const { authority } = await setup({}, { requestTimeoutMs: 300 });
    server.hang = /sign-intermediate$/;
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(err.message).toContain('pki/root/sign-intermediate got no answer within 300 ms');
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

  it('an address where nothing listens: ERR_UPSTREAM_UNAVAILABLE', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { authority } = await suite.createVault({ address: `http://127.0.0.1:${port}`, auth: { method: 'token' } }, { VAULT_TOKEN: 'hvs.some-token' });
    const err = await rejectionOf(mintAndValidate(authority));
    expect(err.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(err.message).toContain('ECONNREFUSED');
  });

  describe('over TLS', () => {
    let tls: { key: string; cert: string; certFile: string };
    beforeAll(async () => {
      const keyFile = path.join(suite.dir, 'vault-key.pem');
      const certFile = path.join(suite.dir, 'vault-cert.pem');
      await run('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-subj', '/CN=vault-test', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', keyFile, '-out', certFile,
      ]);
      tls = { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
    });

    it('trusts Vault\'s certificate from caFile', async () => {
      const { authority } = await setup({ tls }, { caFile: tls.certFile });
      expect(server.url).toMatch(/^https:/);
      const { validate } = await mintAndValidate(authority);
      validate();
    });

    it('without caFile, an unknown Vault certificate is ERR_UPSTREAM_UNAVAILABLE naming the TLS failure', async () => {
      const { authority } = await setup({ tls });
      const err = await rejectionOf(mintAndValidate(authority));
      expect(err.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
      expect(err.message).toContain('TLS verification of Vault failed (DEPTH_ZERO_SELF_SIGNED_CERT)');
      expect(server.requests).toHaveLength(0);
    });

    it('an unreadable caFile is ERR_UPSTREAM_CONFIG at create()', async () => {
      server = await suite.startServer({ tls });
      const err = await rejectionOf(suite.createVault({ address: server.url, caFile: path.join(suite.dir, 'missing.pem'), auth: { method: 'token' } }));
      expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
      expect(err.message).toContain('config.caFile: cannot read');
    });
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
});

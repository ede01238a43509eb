import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamAuthority } from '../../../src/upstream/types.js';
import { FakePcaServer, testCredentials, type PcaFailure } from '../../fakes/acm-pca-server.js';
import { createCaCsr, createTestRootCa, type Misbehaviour, type TestRootCa } from '../../fakes/upstream-ca.js';
import { mintAndValidate, rejectionOf, trustDomain } from '../../fakes/mint.js';
import { createPca, useCredentials } from './harness.js';

describe('aws-acm-pca plugin failures against a local server following the AWS Private CA JSON 1.1 API', () => {
  let ca: TestRootCa;
  let server: FakePcaServer;
  let authority: UpstreamAuthority | undefined;
  let logText: () => string;

  beforeAll(async () => {
    ca = await createTestRootCa({ subCaLevels: 1, name: 'Private CA' });
  });
  afterEach(async () => {
    await authority?.close();
    authority = undefined;
    await server?.stop();
  });

  async function start(failures: Omit<PcaFailure, 'times'>[] = [], config = {}, times = Infinity) {
    useCredentials();
    server = await new FakePcaServer({ ca }).start();
    server.failures = failures.map((f) => ({ ...f, times }));
    ({ authority, logText } = await createPca(server, { signingAlgorithm: 'SHA256WITHECDSA', ...config }));
    return authority!;
  }

  const throttled = { operation: 'IssueCertificate', type: 'ThrottlingException', status: 400, message: 'Rate exceeded' };

  it('a throttled CA never sees a retry storm: 10 concurrent mints make exactly issue.maxAttempts IssueCertificate calls', async () => {
    const pca = await start([throttled]);
    const csr = await createCaCsr(trustDomain);
    const request = { csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds: 3600 };
    const errors = await Promise.all(Array.from({ length: 10 }, () => rejectionOf(pca.mintIntermediate(request))));
    for (const err of errors) {
      expect(err.code).toBe('ERR_UPSTREAM_THROTTLED');
      expect(err.message).toBe('aws-acm-pca: IssueCertificate failed: ThrottlingException: Rate exceeded');
    }
    // 3 = the default budget; the SDK's own retries are off (else 3 × 3).
    expect(server.count('IssueCertificate')).toBe(3);
    const tokens = new Set(server.calls.map((c) => c.body.IdempotencyToken));
    const validities = new Set(server.calls.map((c) => JSON.stringify(c.body.Validity)));
    expect([tokens.size, validities.size]).toEqual([1, 1]);
    expect(logText()).toContain('throttled, backing off');
  });

  it('throttled twice, then issued: the mint succeeds on the third IssueCertificate', async () => {
    const pca = await start([throttled], {}, 2);
    (await mintAndValidate(pca)).validate();
    expect(server.count('IssueCertificate')).toBe(3);
  });

  it('throttled GetCertificate polls back off and count against the poll budget', async () => {
    const pca = await start([{ ...throttled, operation: 'GetCertificate' }], {}, 3);
    (await mintAndValidate(pca)).validate();
    expect(server.count('IssueCertificate')).toBe(1);
    expect(server.count('GetCertificate')).toBe(5); // 3 throttled, 1 in progress, 1 issued
  });

  it.each([
    ['LimitExceededException (a Private CA quota)', { type: 'LimitExceededException', status: 400, message: 'Certificate limit exceeded for the CA' }, 'ERR_UPSTREAM_THROTTLED'],
    ['AccessDeniedException', { type: 'AccessDeniedException', status: 400, message: 'User is not authorized to perform: acm-pca:IssueCertificate' }, 'ERR_UPSTREAM_DENIED'],
    ['InternalFailure (500)', { type: 'InternalFailure', status: 500, message: 'An internal error occurred' }, 'ERR_UPSTREAM_UNAVAILABLE'],
    ['ServiceUnavailable (503)', { type: 'ServiceUnavailable', status: 503, message: 'Service unavailable' }, 'ERR_UPSTREAM_UNAVAILABLE'],
    ['InvalidStateException (CA disabled)', { type: 'InvalidStateException', status: 400, message: 'The certificate authority is not in a valid state for issuing certificates' }, 'ERR_UPSTREAM_UNAVAILABLE'],
    ['MalformedCSRException', { type: 'MalformedCSRException', status: 400, message: 'The certificate signing request is invalid' }, 'ERR_CSR_INVALID'],
  ])('%s → %s after one call, AWS\'s text in the message', async (_name, failure, code) => {
    const pca = await start([{ operation: 'IssueCertificate', ...failure }]);
    const err = await rejectionOf(mintAndValidate(pca));
    expect(err.code).toBe(code);
    expect(err.message).toBe(`aws-acm-pca: IssueCertificate failed: ${failure.type}: ${failure.message}`);
    expect(server.count('IssueCertificate')).toBe(1);
  });

  it('an ARN the server does not know is ERR_UPSTREAM_CONFIG', async () => {
    useCredentials();
    server = await new FakePcaServer({ ca }).start();
    ({ authority } = await createPca(server, { certificateAuthorityArn: `arn:aws:acm-pca:${server.region}:123456789012:certificate-authority/00000000-0000-0000-0000-000000000000` }));
    const err = await rejectionOf(mintAndValidate(authority!));
    expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
    expect(err.message).toContain('ResourceNotFoundException: Could not find certificate authority');
  });

  it.each([
    ['an unknown access key', { ...testCredentials, accessKeyId: 'AKIAUNKNOWNKEY000000' }, 'UnrecognizedClientException'],
    ['a wrong secret key', { ...testCredentials, secretAccessKey: 'not/the/right/secret/key/000000000000000' }, 'InvalidSignatureException'],
  ])('bad credentials (%s): the signature check fails, ERR_UPSTREAM_AUTH, no secret in errors or logs', async (_name, credentials, awsError) => {
    server = await new FakePcaServer({ ca }).start();
    useCredentials(credentials);
    let logs: () => string;
    ({ authority, logText: logs } = await createPca(server, { signingAlgorithm: 'SHA256WITHECDSA' }));
    const err = await rejectionOf(mintAndValidate(authority!));
    expect(err.code).toBe('ERR_UPSTREAM_AUTH');
    expect(err.message).toContain(`IssueCertificate failed: ${awsError}`);
    expect(server.calls).toHaveLength(0); // rejected before any operation ran
    for (const text of [err.message, JSON.stringify(err), String(err.stack), logs()]) {
      expect(text).not.toContain(credentials.secretAccessKey);
      expect(text).not.toContain(testCredentials.secretAccessKey);
    }
  });

  it('no credentials anywhere in the default chain: ERR_UPSTREAM_AUTH before any request', async () => {
    server = await new FakePcaServer({ ca }).start();
    useCredentials();
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']) {
      delete process.env[name];
    }
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    ({ authority } = await createPca(server, { signingAlgorithm: 'SHA256WITHECDSA' }));
    const err = await rejectionOf(mintAndValidate(authority!));
    expect(err.code).toBe('ERR_UPSTREAM_AUTH');
    expect(err.message).toContain('IssueCertificate failed: CredentialsProviderError');
    expect(server.calls).toHaveLength(0);
  });

  it('no region in config or environment: ERR_UPSTREAM_CONFIG', async () => {
    server = await new FakePcaServer({ ca }).start();
    useCredentials();
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    ({ authority } = await createPca(server, { signingAlgorithm: 'SHA256WITHECDSA', region: undefined }));
    const err = await rejectionOf(mintAndValidate(authority!));
    expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
    expect(err.message).toMatch(/region is missing/i);
  });

  it('a CA that never answers: ERR_UPSTREAM_TIMEOUT after requestTimeoutMs, one call', async () => {
    const pca = await start([], { requestTimeoutMs: 300 });
    server.hang.add('IssueCertificate');
    const err = await rejectionOf(mintAndValidate(pca));
    expect(err.code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(err.message).toBe('aws-acm-pca: IssueCertificate got no answer within 300 ms');
    expect(server.count('IssueCertificate')).toBe(1);
  });

  it('a caller abort ends its wait with ERR_UPSTREAM_TIMEOUT; close() ends the hanging call', async () => {
    const pca = await start();
    server.hang.add('IssueCertificate');
    const csr = await createCaCsr(trustDomain);
    const controller = new AbortController();
    const pending = pca.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds: 3600 }, controller.signal);
    const second = pca.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds: 3600 });
    controller.abort();
    const err = await rejectionOf(pending);
    expect(err.code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(err.message).toBe('aws-acm-pca: mint aborted');
    await pca.close();
    const closed = await rejectionOf(second);
    expect(closed.code).toBe('ERR_UPSTREAM_TIMEOUT');
  });

  it.each<[Misbehaviour, RegExp]>([
    ['not-a-ca', /is not a CA certificate/],
    ['other-key', /certifies a different public key/],
    ['wrong-issuer', /is not signed by/],
  ])('a misbehaving CA (%s) is rejected by validation with ERR_UPSTREAM_CHAIN', async (misbehaviour, message) => {
    const pca = await start();
    server.misbehave = misbehaviour;
    const { validate } = await mintAndValidate(pca);
    const err = await rejectionOf(Promise.resolve().then(validate));
    expect(err.code).toBe('ERR_UPSTREAM_CHAIN');
    expect(err.message).toMatch(message);
  });

  it('a lifetime cut short by the CA is reported by validation as truncated', async () => {
    const pca = await start();
    server.misbehave = 'short-ttl';
    const validated = (await mintAndValidate(pca, { ttlSeconds: 7200 })).validate();
    expect(validated.truncated).toBe(true);
    expect(validated.warnings.some((w) => w.startsWith('intermediate truncated'))).toBe(true);
  });

  it('a chain that does not reach a self-signed root is ERR_UPSTREAM_CHAIN', async () => {
    const sub = await createTestRootCa({ subCaLevels: 2, name: 'Deep' });
    useCredentials();
    // The server's CA hands back only the intermediates, as a CA imported without its root would.
    server = await new FakePcaServer({ ca: { ...sub, rootPem: '' } }).start();
    ({ authority } = await createPca(server, { signingAlgorithm: 'SHA256WITHECDSA' }));
    const err = await rejectionOf(authority!.fetchRoots!());
    expect(err.code).toBe('ERR_UPSTREAM_CHAIN');
    expect(err.message).toContain('does not reach a self-signed root');
  });
});

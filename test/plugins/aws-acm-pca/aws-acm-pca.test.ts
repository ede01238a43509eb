import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultTemplateArn } from '../../../plugins/aws-acm-pca/config.js';
import type { UpstreamAuthority } from '../../../src/upstream/types.js';
import { FakePcaServer, testCredentials, type FakePcaOptions } from '../../fakes/acm-pca-server.js';
import { createCaCsr, createTestRootCa, type TestRootCa } from '../../fakes/upstream-ca.js';
import { provesEndToEnd } from '../../upstream/leaf-check.js';
import { mintAndValidate, trustDomain } from '../../fakes/mint.js';
import { createPca, useCredentials } from './harness.js';
import { hasTools } from '../../helpers/tools.js';

describe('aws-acm-pca plugin against a local server following the AWS Private CA JSON 1.1 API (real AWS SDK, SigV4)', () => {
  let ca: TestRootCa;
  let server: FakePcaServer;
  let authority: UpstreamAuthority | undefined;

  beforeAll(async () => {
    ca = await createTestRootCa({ subCaLevels: 1, name: 'Private CA' });
    useCredentials();
  });
  afterEach(async () => {
    await authority?.close();
    authority = undefined;
    await server?.stop();
    useCredentials();
  });

  async function start(options: Partial<FakePcaOptions> = {}, config = {}) {
    server = await new FakePcaServer({ ca, ...options }).start();
    ({ authority } = await createPca(server, config));
    return authority!;
  }

  it.runIf(hasTools('openssl'))('mints an intermediate that validates, verifies with openssl and completes a TLS handshake', async () => {
    const pca = await start({ pendingPolls: 2 });
    const before = Math.floor(Date.now() / 1000);
    const { csr, result, validate } = await mintAndValidate(pca, { ttlSeconds: 3600 });
    const validated = validate();
    expect(result.upstreamChainPem).toHaveLength(1);
    expect(result.rootsPem.map((p) => p.trim())).toEqual([ca.rootPem.trim()]);
    const proof = await provesEndToEnd(csr.keys, validated, trustDomain);
    expect(proof.opensslOutput).toContain('OK');
    expect(proof.serverSawClient).toBe(`spiffe://${trustDomain}/client`);

    // The signing algorithm comes from the CA; RequestInProgressException twice, then the certificate.
    expect(server.calls.map((c) => c.operation)).toEqual([
      'DescribeCertificateAuthority',
      'IssueCertificate',
      'GetCertificate',
      'GetCertificate',
      'GetCertificate',
    ]);
    const issue = server.calls[1]!;
    expect(issue.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(issue.headers['x-amz-target']).toBe('ACMPrivateCA.IssueCertificate');
    expect(issue.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${testCredentials.accessKeyId}/\\d{8}/${server.region}/acm-pca/aws4_request, SignedHeaders=`),
    );
    expect(issue.body).toMatchObject({
      CertificateAuthorityArn: server.caArn,
      SigningAlgorithm: 'SHA256WITHECDSA',
      TemplateArn: defaultTemplateArn,
      Validity: { Type: 'ABSOLUTE' },
    });
    expect(Buffer.from(String(issue.body.Csr), 'base64').toString()).toBe(csr.csrPem);
    const notAfter = (issue.body.Validity as { Value: number }).Value;
    expect(notAfter).toBeGreaterThanOrEqual(before + 3600);
    expect(notAfter).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
    expect(issue.body.IdempotencyToken).toMatch(/^[0-9a-f]{32}$/);
  });

  it('uses a configured signing algorithm and template without asking the CA', async () => {
    const template = 'arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1';
    const pca = await start({}, { signingAlgorithm: 'SHA256WITHECDSA', templateArn: template });
    (await mintAndValidate(pca)).validate();
    expect(server.count('DescribeCertificateAuthority')).toBe(0);
    expect(server.calls[0]!.body.TemplateArn).toBe(template);
  });

  it('fetchRoots reads GetCertificateAuthorityCertificate and keeps the self-signed root', async () => {
    const pca = await start();
    expect((await pca.fetchRoots!()).map((p) => p.trim())).toEqual([ca.rootPem.trim()]);
    expect(server.calls.map((c) => c.operation)).toEqual(['GetCertificateAuthorityCertificate']);
  });

  it('one mint in flight: concurrent calls for one CSR share one IssueCertificate, other CSRs wait their turn', async () => {
    const pca = await start({ pendingPolls: 1 });
    const csr = await createCaCsr(trustDomain);
    const request = { csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds: 3600 };
    const same = await Promise.all(Array.from({ length: 5 }, () => pca.mintIntermediate(request)));
    expect(new Set(same.map((r) => r.certificatePem)).size).toBe(1);
    expect(server.count('IssueCertificate')).toBe(1);

    const others = await Promise.all(Array.from({ length: 3 }, () => mintAndValidate(pca)));
    others.forEach((o) => o.validate());
    expect(server.count('IssueCertificate')).toBe(4);
    expect(server.maxConcurrent).toBe(1);
  });

  it('a retry after polling gave up does not mint twice: same idempotency token, same certificate ARN', async () => {
    const pca = await start({ pendingPolls: 4 }, { poll: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 } });
    const csr = await createCaCsr(trustDomain);
    const request = { csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds: 3600 };
    const err = await pca.mintIntermediate(request).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(err?.message).toMatch(/certificate arn:aws:acm-pca:.*\/certificate\/[0-9a-f]+ still not issued after 3 GetCertificate polls/);
    expect(server.count('GetCertificate')).toBe(3);

    await pca.mintIntermediate(request);
    const issues = server.calls.filter((c) => c.operation === 'IssueCertificate');
    expect(issues).toHaveLength(2);
    expect(issues[1]!.body.IdempotencyToken).toBe(issues[0]!.body.IdempotencyToken);
    const arns = new Set(server.calls.filter((c) => c.operation === 'GetCertificate').map((c) => c.body.CertificateArn));
    expect(arns.size).toBe(1);
  });
});

/**
 * `authority revoke --upstream` on AWS Private CA: RevokeCertificate through the
 * real AWS SDK (SigV4 checked by the local server), with the request shaped as the
 * AWS API Reference documents it. AWS itself cannot run here.
 */
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamAuthority } from '../../../src/upstream/types.js';
import { FakePcaServer } from '../../fakes/acm-pca-server.js';
import { createCaCsr, createTestRootCa, type TestRootCa } from '../../fakes/upstream-ca.js';
import { rejectionOf, trustDomain } from '../../fakes/mint.js';
import { createPca, useCredentials } from './harness.js';

describe('aws-acm-pca: RevokeCertificate', () => {
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
  });

  async function minted(config = {}) {
    server = await new FakePcaServer({ ca, pendingPolls: 0 }).start();
    const created = await createPca(server, config);
    authority = created.authority;
    const csr = await createCaCsr(trustDomain);
    const result = await authority.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds: 3600 });
    // What the admin handler passes: Node's serial, upper-case hex without colons.
    return { serial: new X509Certificate(result.certificatePem).serialNumber, logText: created.logText };
  }
  const colonForm = (hex: string) => hex.toLowerCase().replace(/^(00)+(?=..)/, '').match(/../g)!.join(':');

  it('revokes an intermediate per AWS\'s documented API (AWS cannot run here)', async () => {
    const { serial, logText } = await minted();
    await authority!.revoke!(serial);
    const call = server.calls.find((c) => c.operation === 'RevokeCertificate')!;
    expect(call.headers['x-amz-target']).toBe('ACMPrivateCA.RevokeCertificate');
    expect(call.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(call.body).toEqual({ CertificateAuthorityArn: server.caArn, CertificateSerial: colonForm(serial), RevocationReason: 'SUPERSEDED' });
    expect(server.revoked.get(colonForm(serial))).toBe('SUPERSEDED');
    expect(logText()).toContain('certificate revoked');
  });

  it('passes the configured reason (KEY_COMPROMISE), and a repeat is not an error (RequestAlreadyProcessedException)', async () => {
    const { serial, logText } = await minted({ revocationReason: 'KEY_COMPROMISE' });
    await authority!.revoke!(serial);
    await authority!.revoke!(serial);
    expect(server.count('RevokeCertificate')).toBe(2);
    expect(server.revoked.get(colonForm(serial))).toBe('KEY_COMPROMISE');
    expect(logText()).toContain('already revoked');
  });

  it('refuses a reason outside AWS\'s enum at config time', async () => {
    server = await new FakePcaServer({ ca }).start();
    await expect(createPca(server, { revocationReason: 'COMPROMISED' as never })).rejects.toThrow(/revocationReason/);
  });

  it.each([
    ['a serial this CA never issued', { CertificateSerial: '7f' }, 'ERR_UPSTREAM_CONFIG', 'ResourceNotFoundException'],
    ['throttling past the budget', { throttle: true }, 'ERR_UPSTREAM_THROTTLED', 'ThrottlingException'],
  ])('reports %s with a typed error', async (_name, how, code, awsError) => {
    const { serial } = await minted({ issue: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 } });
    if ('throttle' in how) server.failures = [{ operation: 'RevokeCertificate', type: 'ThrottlingException', status: 400, message: 'Rate exceeded', times: Infinity }];
    const err = await rejectionOf(authority!.revoke!('CertificateSerial' in how ? how.CertificateSerial : serial));
    expect(err).toMatchObject({ code, details: { operation: 'RevokeCertificate', awsError } });
    // Throttling is retried within the small budget, never in a storm.
    if ('throttle' in how) expect(server.count('RevokeCertificate')).toBe(2);
  });

  it('refuses a malformed serial before calling AWS', async () => {
    await minted();
    expect(await rejectionOf(authority!.revoke!('zz:not-hex'))).toMatchObject({ code: 'ERR_USAGE' });
    expect(server.count('RevokeCertificate')).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { parseCertificates } from '../../../src/upstream/sdk/pem.js';
import { limits } from '../../../src/limits.js';
import { createTestRootCa } from '../../fakes/upstream-ca.js';

describe('parseCertificates bounds what an upstream answer can make us parse', () => {
  it('repeated certificates (however wrapped) are parsed once: 20,000 copies give one certificate', async () => {
    const { rootPem } = await createTestRootCa();
    const rewrapped = rootPem.replace(/\n/g, '\r\n');
    const certs = parseCertificates([...Array(10_000).fill(rootPem), ...Array(10_000).fill(rewrapped)], 'test chain', 'ERR_UPSTREAM_BAD_RESPONSE');
    expect(certs).toHaveLength(1);
  });

  it(`more than ${limits.upstreamCertificatesMax} distinct certificates are refused with the caller's code before any is parsed`, async () => {
    const roots = await Promise.all(Array.from({ length: limits.upstreamCertificatesMax + 1 }, () => createTestRootCa()));
    const pems = roots.map((r) => r.rootPem);
    expect(parseCertificates(pems.slice(0, limits.upstreamCertificatesMax), 'test chain')).toHaveLength(limits.upstreamCertificatesMax);
    // A broken last block shows nothing was parsed: the count check comes first.
    const err = (() => {
      try {
        parseCertificates([...pems.slice(0, -1), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'], 'test chain', 'ERR_UPSTREAM_BAD_RESPONSE');
      } catch (e) {
        return e as { code: string; details: Record<string, unknown> };
      }
    })();
    expect(err?.code).toBe('ERR_UPSTREAM_BAD_RESPONSE');
    expect(err?.details).toMatchObject({ count: limits.upstreamCertificatesMax + 1, max: limits.upstreamCertificatesMax });
  });
});

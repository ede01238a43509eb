import { beforeAll, describe, expect, it } from 'vitest';
import { validateMintResult, validateRoots, minIntermediateLifetimeSeconds } from '../../src/upstream/validate.js';
import { isWcaError } from '../../src/errors.js';
import type { MintResult } from '../../src/upstream/types.js';
import { createCaCsr, createTestRootCa, type SignCaCsrOptions, type TestRootCa } from '../fakes/upstream-ca.js';
import { provesEndToEnd } from './leaf-check.js';
import { hasTools } from '../helpers/tools.js';

const td = 'example.org';
const ttl = 6 * 3600;

async function mint(ca: TestRootCa, options: Partial<SignCaCsrOptions> = {}) {
  const csr = await createCaCsr(td);
  const now = new Date();
  const result = await ca.signCaCsr(csr.csrPem, { ttlSeconds: ttl, uriSan: `spiffe://${td}`, ...options });
  const expectation = { publicKeySpkiDer: csr.spkiDer, trustDomain: td, requestedNotAfter: new Date(now.getTime() + ttl * 1000), now };
  return { csr, result, expectation };
}

function expectChainError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isWcaError(caught, 'ERR_UPSTREAM_CHAIN'), `expected ERR_UPSTREAM_CHAIN, got ${String(caught)}`).toBe(true);
  expect((caught as Error).message).toMatch(pattern);
}

describe('validateMintResult accepts good answers', () => {
  it.runIf(hasTools('openssl'))('root-signed intermediate: chain is ours only, leaves verify with openssl and mutual TLS', async () => {
    const ca = await createTestRootCa();
    const { csr, result, expectation } = await mint(ca);
    const v = validateMintResult(result, expectation);
    expect(v.chainPem).toHaveLength(1);
    expect(v.chainPem[0]).toBe(v.certificatePem);
    expect(v.rootsPem).toEqual([ca.rootPem]);
    expect(v.truncated).toBe(false);
    expect(v.warnings).toEqual([]);
    expect(v.notAfter.getTime()).toBeGreaterThan(Date.now() + (ttl - 120) * 1000);
    const proof = await provesEndToEnd(csr.keys, v, td);
    expect(proof.opensslOutput).toMatch(/: OK/);
    expect(proof.serverSawClient).toBe(`spiffe://${td}/client`);
    expect(proof.clientSawServer).toBe(`spiffe://${td}/server`);
  });

  it.runIf(hasTools('openssl'))('two sub-CA levels: chain ours-first, root appended by the upstream is dropped', async () => {
    const ca = await createTestRootCa({ subCaLevels: 2 });
    const { csr, result, expectation } = await mint(ca);
    const v = validateMintResult({ ...result, upstreamChainPem: [...result.upstreamChainPem, ca.rootPem] }, expectation);
    expect(v.chainPem).toEqual([v.certificatePem, ...ca.chainPem]);
    expect(v.chainPem).not.toContain(ca.rootPem);
    const proof = await provesEndToEnd(csr.keys, v, td);
    expect(proof.opensslOutput).toMatch(/: OK/);
  });

  it('accepts a chain given as one concatenated PEM string', async () => {
    const ca = await createTestRootCa({ subCaLevels: 2 });
    const { result, expectation } = await mint(ca);
    const v = validateMintResult({ ...result, upstreamChainPem: [result.upstreamChainPem.join('\n')] }, expectation);
    expect(v.chainPem).toHaveLength(3);
  });

  it('a truncated lifetime is accepted, flagged and explained', async () => {
    const ca = await createTestRootCa();
    const { result, expectation } = await mint(ca, { misbehave: 'short-ttl' });
    const v = validateMintResult(result, expectation);
    expect(v.truncated).toBe(true);
    expect(v.notAfter.getTime()).toBeLessThan(expectation.requestedNotAfter.getTime() - 3600_000);
    expect(v.warnings.join('\n')).toMatch(/truncated/);
  });

  it('the root notAfter caps the usable lifetime', async () => {
    const ca = await createTestRootCa({ notAfter: new Date(Date.now() + 3600_000) });
    const { result, expectation } = await mint(ca);
    const v = validateMintResult(result, expectation);
    expect(v.truncated).toBe(true);
    expect(v.notAfter.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
  });

  it('a missing URI SAN is a warning; upstream warnings pass through', async () => {
    const ca = await createTestRootCa();
    const { result, expectation } = await mint(ca, { uriSan: undefined });
    const v = validateMintResult({ ...result, warnings: ['TTL clamped to mount max'] }, expectation);
    expect(v.warnings[0]).toBe('TTL clamped to mount max');
    expect(v.warnings.join('\n')).toMatch(/no URI SAN; expected spiffe:\/\/example\.org/);
  });
});

describe('validateMintResult rejects bad answers with ERR_UPSTREAM_CHAIN', () => {
  let ca: TestRootCa;
  let other: TestRootCa;
  beforeAll(async () => {
    ca = await createTestRootCa({ subCaLevels: 1 });
    other = await createTestRootCa({ name: 'Other Root' });
  });

  const now = () => Date.now();
  const cases: Array<{ name: string; options?: Partial<SignCaCsrOptions>; edit?: (r: MintResult) => MintResult; error: RegExp }> = [
    { name: 'not a CA', options: { misbehave: 'not-a-ca' }, error: /is not a CA certificate/ },
    { name: 'certificate for another key', options: { misbehave: 'other-key' }, error: /different public key/ },
    { name: 'signed by the wrong key', options: { misbehave: 'wrong-issuer' }, error: /is not signed by/ },
    {
      name: 'chain does not reach the roots',
      edit: (r) => ({ ...r, rootsPem: [other.rootPem] }),
      error: /does not chain to any of the 1 upstream root/,
    },
    { name: 'intermediate sub-CA missing', edit: (r) => ({ ...r, upstreamChainPem: [] }), error: /does not chain/ },
    {
      name: 'expired',
      options: { validity: { notBefore: new Date(now() - 7200_000), notAfter: new Date(now() - 3600_000) } },
      error: /has expired/,
    },
    {
      name: 'not yet valid',
      options: { validity: { notBefore: new Date(now() + 3600_000), notAfter: new Date(now() + 7200_000) } },
      error: /not valid yet/,
    },
    {
      name: 'lifetime below the minimum',
      options: { validity: { notBefore: new Date(now() - 60_000), notAfter: new Date(now() + 5 * 60_000) } },
      error: new RegExp(`below the minimum of ${minIntermediateLifetimeSeconds}s`),
    },
    { name: 'URI SAN of another trust domain', options: { uriSan: 'spiffe://evil.example' }, error: /URI SAN spiffe:\/\/evil\.example/ },
    { name: 'no roots', edit: (r) => ({ ...r, rootsPem: [] }), error: /no root certificates/ },
    { name: 'root that is not self-signed', edit: (r) => ({ ...r, rootsPem: [ca.issuerPem] }), error: /is not self-signed/ },
    { name: 'garbage PEM', edit: (r) => ({ ...r, certificatePem: 'hello' }), error: /exactly one intermediate/ },
    {
      name: 'corrupt base64 inside a PEM block',
      edit: (r) => ({ ...r, certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }),
      error: /intermediate: certificate #1 is not a valid X\.509 certificate/,
    },
    {
      name: 'two certificates where one was expected',
      edit: (r) => ({ ...r, certificatePem: r.certificatePem + ca.issuerPem }),
      error: /returned 2 certificates/,
    },
  ];

  it.each(cases)('$name', async ({ options, edit, error }) => {
    const { result, expectation } = await mint(ca, options);
    expectChainError(() => validateMintResult(edit ? edit(result) : result, expectation), error);
  });

  it('a sub-CA whose issuer has pathLen 0 cannot have our intermediate below it', async () => {
    const tight = await createTestRootCa({ subCaLevels: 1, pathLen: 0 });
    const { result, expectation } = await mint(tight);
    expectChainError(() => validateMintResult(result, expectation), /pathLen 0 but 1 CA certificate\(s\) sit below it/);
  });
});

describe('validateRoots', () => {
  it('returns canonical PEM for self-signed CA roots', async () => {
    const a = await createTestRootCa();
    const b = await createTestRootCa({ name: 'B' });
    expect(validateRoots([a.rootPem + b.rootPem])).toEqual([a.rootPem, b.rootPem]);
  });

  it.each([
    { name: 'empty', roots: [] as string[], error: /no root certificates/ },
    { name: 'not PEM', roots: ['nope'], error: /no root certificates/ },
  ])('rejects $name', ({ roots, error }) => {
    expectChainError(() => validateRoots(roots), error);
  });
});

import { generateKeyPairSync, sign as nodeSign, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as x509 from '@peculiar/x509';
import {
  createSelfSignedRoot,
  signerAuthority,
  signIntermediate,
  signerFromCryptoKeyPair,
  signerFromKeyObject,
  type CaSigner,
} from '../../../src/upstream/sdk/ca-signer.js';
import { validateMintResult } from '../../../src/upstream/validate.js';
import { isWcaError, type ErrorCode } from '../../../src/errors.js';
import { mintAndValidate } from '../../fakes/mint.js';
import { createCaCsr, createTestRootCa, generateTestKeys } from '../../fakes/upstream-ca.js';
import { provesEndToEnd } from '../leaf-check.js';
import { hasTools } from '../../helpers/tools.js';

const td = 'sdk.example';

async function rootAndIntermediate(signer: CaSigner, rootTtl = 30 * 86400, ttl = 86400) {
  const rootPem = await createSelfSignedRoot({ signer, subject: 'CN=SDK Test Root, O=SPIFFE', ttlSeconds: rootTtl, trustDomain: td });
  const csr = await createCaCsr(td);
  const signed = await signIntermediate({ signer, issuerCertPem: rootPem, csr: csr.csrPem, trustDomain: td, ttlSeconds: ttl });
  const now = new Date();
  const validated = validateMintResult(
    { certificatePem: signed.certificatePem, upstreamChainPem: [], rootsPem: [rootPem] },
    { publicKeySpkiDer: csr.spkiDer, trustDomain: td, requestedNotAfter: new Date(now.getTime() + ttl * 1000), now },
  );
  return { rootPem, csr, signed, validated };
}

const keyObjectSigners: Array<{ name: string; make: () => CaSigner; algorithm: string }> = [
  { name: 'EC P-256 KeyObject', make: () => signerFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), algorithm: 'ES256' },
  { name: 'EC P-384 KeyObject', make: () => signerFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey), algorithm: 'ES384' },
  { name: 'RSA-2048 KeyObject', make: () => signerFromKeyObject(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), algorithm: 'RS256' },
];

describe('signIntermediate', () => {
  it.runIf(hasTools('openssl')).each(keyObjectSigners)('$name: issues a valid intermediate under its self-signed root', async ({ make, algorithm }) => {
    const signer = make();
    expect(signer.algorithm).toBe(algorithm);
    const { validated, csr } = await rootAndIntermediate(signer);
    expect(validated.truncated).toBe(false);
    expect(validated.warnings).toEqual([]);
    const proof = await provesEndToEnd(csr.keys, validated, td);
    expect(proof.opensslOutput).toMatch(/: OK/);
  });

  it('CryptoKeyPair signer; profile is CA pathlen:0 critical, keyCertSign+cRLSign critical, SPIFFE URI SAN, SKI/AKI', async () => {
    const signer = await signerFromCryptoKeyPair(await generateTestKeys('ec-p256'));
    const { rootPem, signed } = await rootAndIntermediate(signer);
    const cert = new x509.X509Certificate(signed.certificatePem);
    const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.pathLength, bc.critical]).toEqual([true, 0, true]);
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    expect([ku.usages, ku.critical]).toEqual([x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true]);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON()).toEqual([{ type: 'url', value: `spiffe://${td}` }]);
    const rootSki = new x509.X509Certificate(rootPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(rootSki);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).toBeTruthy();
    expect(parseInt(cert.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80);
  });

  it('an external sign() function (P1363 signatures) is all an HSM needs to provide', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let calls = 0;
    const external: CaSigner = {
      algorithm: 'ES256',
      publicKeySpkiDer: publicKey.export({ format: 'der', type: 'spki' }),
      sign: async (data) => {
        calls++;
        return nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      },
    };
    const { validated } = await rootAndIntermediate(external);
    expect(calls).toBe(2); // root + intermediate
    expect(validated.chainPem).toHaveLength(1);
  });

  it('a signer returning a wrong signature produces a certificate validation rejects', async () => {
    const good = signerFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const rootPem = await createSelfSignedRoot({ signer: good, subject: 'CN=Root', ttlSeconds: 86400 });
    const liar = signerFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const csr = await createCaCsr(td);
    const signed = await signIntermediate({
      signer: { ...liar, publicKeySpkiDer: good.publicKeySpkiDer },
      issuerCertPem: rootPem,
      csr: csr.csrDer,
      trustDomain: td,
      ttlSeconds: 3600,
    });
    expect(new X509Certificate(signed.certificatePem).verify(new X509Certificate(rootPem).publicKey)).toBe(false);
  });

  it('clamps notAfter to the issuer notAfter, which validation reports as truncation', async () => {
    const signer = signerFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const { validated, rootPem } = await rootAndIntermediate(signer, 2 * 3600, 86400);
    expect(validated.truncated).toBe(true);
    expect(validated.notAfter.getTime()).toBe(new x509.X509Certificate(rootPem).notAfter.getTime());
  });

  const bad: Array<{ name: string; code: ErrorCode; csr?: (der: Uint8Array) => Uint8Array | string; trustDomain?: string; ttl?: number; message: RegExp }> = [
    { name: 'garbage CSR', code: 'ERR_CSR_INVALID', csr: () => 'not a csr', message: /not a valid PKCS#10/ },
    {
      name: 'CSR with a broken signature',
      code: 'ERR_CSR_SIGNATURE',
      csr: (der) => {
        const copy = Uint8Array.from(der);
        copy[copy.length - 5] ^= 0xff;
        return copy;
      },
      message: /signature/,
    },
    { name: 'invalid trust domain', code: 'ERR_SPIFFE_ID_INVALID', trustDomain: 'Bad Domain!', message: /invalid trust domain \(11 characters\): trust domain may contain only lowercase letters/ },
    { name: 'zero TTL', code: 'ERR_TTL_INVALID', ttl: 0, message: /positive integer/ },
  ];

  it.each(bad)('rejects $name with $code', async ({ code, csr, trustDomain, ttl, message }) => {
    const signer = signerFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const rootPem = await createSelfSignedRoot({ signer, subject: 'CN=Root', ttlSeconds: 86400 });
    const good = await createCaCsr(td);
    const err = await signIntermediate({
      signer,
      issuerCertPem: rootPem,
      csr: csr ? csr(good.csrDer) : good.csrDer,
      trustDomain: trustDomain ?? td,
      ttlSeconds: ttl ?? 3600,
    }).catch((e: unknown) => e);
    expect(isWcaError(err, code), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});

describe('signerAuthority', () => {
  it.runIf(hasTools('openssl'))('mints under a sub-CA: chain and roots as given, roots asked again for every mint and fetchRoots, close passed on', async () => {
    const ca = await createTestRootCa({ subCaLevels: 1 });
    const signer = await signerFromCryptoKeyPair(ca.issuerKeys);
    let rootsAsked = 0;
    let closed = 0;
    const authority = signerAuthority({
      name: 'sdk-test',
      signer,
      issuerCertPem: ca.issuerPem,
      upstreamChainPem: ca.chainPem,
      rootsPem: () => {
        rootsAsked++;
        return [ca.rootPem];
      },
      close: () => void closed++,
    });
    expect(authority.name).toBe('sdk-test');
    const { csr, result, validate } = await mintAndValidate(authority, { trustDomain: td });
    expect(result.upstreamChainPem).toEqual(ca.chainPem);
    expect(result.rootsPem).toEqual([ca.rootPem]);
    expect((await provesEndToEnd(csr.keys, validate(), td)).opensslOutput).toMatch(/: OK/);
    expect(await authority.fetchRoots!()).toEqual([ca.rootPem]);
    expect(rootsAsked).toBe(2);
    await authority.close();
    expect(closed).toBe(1);
  });

  it('asks a lazy issuer for the certificate of the request\'s trust domain', async () => {
    const signer = signerFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const asked: string[] = [];
    const roots = new Map<string, string>();
    const authority = signerAuthority({
      name: 'lazy',
      signer,
      issuerCertPem: async (trustDomain) => {
        asked.push(trustDomain);
        const rootPem = await createSelfSignedRoot({ signer, subject: `CN=${trustDomain}`, ttlSeconds: 86400, trustDomain });
        roots.set(trustDomain, rootPem);
        return rootPem;
      },
      upstreamChainPem: [],
      rootsPem: () => [...roots.values()],
    });
    const { result, validate } = await mintAndValidate(authority, { trustDomain: td });
    expect(asked).toEqual([td]);
    expect(result.rootsPem).toEqual([roots.get(td)]);
    validate();
    await authority.close();
  });
});

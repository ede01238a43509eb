/**
 * Issue #8 item 2: forged proof of possession and non-canonical keys in CSRs.
 * Every CSR here is built at test time, most of them hostile, and goes through
 * the real Authority (signer threads included).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { WcaError } from '../../src/errors.js';
import { seq, set, tlv, oid, bitString, smallInt, explicit, uint, NULL } from '../../src/x509/der.js';
import { OID } from '../../src/x509/oids.js';
import { splitPem, opensslVerify } from '../helpers/pki.js';
import { hasTools } from '../helpers/tools.js';

const ID = 'spiffe://cluster.local/vm/csr-test';
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

let ca: Authority;
beforeAll(async () => {
  ca = await createDevAuthority({ signers: 1 });
});
afterAll(() => ca.close());

interface CsrParts {
  spki: Buffer;
  /** Signs the CertificationRequestInfo bytes. */
  sign: (info: Buffer) => Buffer;
  sigAlg: Buffer;
  version?: number;
  /** The signature BIT STRING's unused-bits count (always 0 in a real CSR). */
  unusedBits?: number;
}

function buildCsr({ spki, sign, sigAlg, version = 0, unusedBits = 0 }: CsrParts): Buffer {
  const subject = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('workload')))));
  const info = seq(smallInt(version), subject, spki, explicit(0));
  return seq(info, sigAlg, tlv(0x03, Buffer.from([unusedBits]), sign(info)));
}

const ecdsaSha256 = seq(oid(OID.ecdsaSha256));
const rsaSha256 = seq(oid(OID.rsaSha256), NULL);
const rsaSpki = (n: Buffer, e: Buffer) => seq(seq(oid(OID.rsaEncryption), NULL), bitString(seq(uint(n), uint(e))));

/** Re-encodes every length of a DER value in the 2-byte long form: valid BER, not DER. */
function berify(der: Buffer, intoBitString = false): Buffer {
  const tag = der[0]!;
  let p = 1;
  let len = der[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = der.subarray(p, p + n).reduce((v, b) => v * 256 + b, 0);
    p += n;
  }
  let content = der.subarray(p, p + len);
  if (tag & 0x20) {
    const parts: Buffer[] = [];
    for (let q = 0; q < content.length; ) {
      const child = childLength(content, q);
      parts.push(berify(content.subarray(q, q + child), intoBitString));
      q += child;
    }
    content = Buffer.concat(parts);
  } else if (tag === 0x03 && intoBitString && content[1] === 0x30) {
    content = Buffer.concat([content.subarray(0, 1), berify(content.subarray(1))]);
  }
  return Buffer.concat([Buffer.from([tag, 0x82, content.length >> 8, content.length & 0xff]), content]);
}

function childLength(buf: Buffer, at: number): number {
  const len = buf[at + 1]!;
  if (!(len & 0x80)) return 2 + len;
  const n = len & 0x7f;
  return 2 + n + buf.subarray(at + 2, at + 2 + n).reduce((v, b) => v * 256 + b, 0);
}

async function rejection(csr: Buffer): Promise<WcaError> {
  const err = await ca.issueForCsr({ spiffeId: ID, csr }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the CSR was certified').toBeInstanceOf(WcaError);
  return err as WcaError;
}

const leafOf = (chainPem: string) => splitPem(chainPem)[0]!;

describe('forged proof of possession', () => {
  it('refuses an RSA key with public exponent 1 "signed" without any private key', async () => {
    // With e = 1, s^e mod n = s: the PKCS#1 v1.5 encoding of the digest is its own signature.
    const n = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }).n!;
    const modulus = Buffer.from(n, 'base64url');
    const forged = buildCsr({
      spki: rsaSpki(modulus, Buffer.from([1])),
      sigAlg: rsaSha256,
      sign: (info) => {
        const digestInfo = Buffer.concat([SHA256_DIGEST_INFO_PREFIX, crypto.createHash('sha256').update(info).digest()]);
        const padding = Buffer.alloc(modulus.length - digestInfo.length - 3, 0xff);
        return Buffer.concat([Buffer.from([0x00, 0x01]), padding, Buffer.from([0x00]), digestInfo]);
      },
    });
    const err = await rejection(forged);
    expect(err.code).toBe('ERR_KEY_TYPE_UNSUPPORTED');
    expect(err.details.reason).toBe('rsa-exponent');
  });

  it.each([
    { name: 'even exponent', e: Buffer.from([0x01, 0x00, 0x00]) },
    { name: 'exponent of 2', e: Buffer.from([2]) },
    { name: 'exponent of 2^256 + 1', e: Buffer.concat([Buffer.from([1]), Buffer.alloc(31), Buffer.from([1])]) },
  ])('refuses an RSA key with an $name', async ({ e }) => {
    const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const modulus = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
    // The signature is irrelevant: the key is refused before it is used.
    const err = await rejection(buildCsr({ spki: rsaSpki(modulus, e), sigAlg: rsaSha256, sign: () => Buffer.alloc(256, 1) }));
    expect(err.code).toBe('ERR_KEY_TYPE_UNSUPPORTED');
    expect(err.details.reason).toBe('rsa-exponent');
  });

  it('refuses an RSA modulus below 2048 bits, with a real signature', async () => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
    const csr = buildCsr({ spki: publicKey.export({ type: 'spki', format: 'der' }), sigAlg: rsaSha256, sign: (info) => crypto.sign('sha256', info, privateKey) });
    const err = await rejection(csr);
    expect(err.code).toBe('ERR_KEY_TYPE_UNSUPPORTED');
    expect(err.details.reason).toBe('rsa-modulus');
  });

  it('refuses an RSA modulus above the limit before any signature work', async () => {
    const modulus = crypto.randomBytes(8200 / 8);
    modulus[0]! |= 0x80;
    modulus[modulus.length - 1]! |= 1;
    const err = await rejection(buildCsr({ spki: rsaSpki(modulus, Buffer.from([1, 0, 1])), sigAlg: rsaSha256, sign: () => Buffer.alloc(1025, 1) }));
    expect(err.code).toBe('ERR_KEY_TYPE_UNSUPPORTED');
    expect(err.details.reason).toBe('rsa-modulus');
  });

  it.each([3, 65535])('refuses e = %i (odd, below the CA/Browser Forum minimum 2^16+1) with a real signature', async (publicExponent) => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent });
    const csr = buildCsr({ spki: publicKey.export({ type: 'spki', format: 'der' }), sigAlg: rsaSha256, sign: (info) => crypto.sign('sha256', info, privateKey) });
    const err = await rejection(csr);
    expect(err.code).toBe('ERR_KEY_TYPE_UNSUPPORTED');
    expect(err.details.reason).toBe('rsa-exponent');
  });

  it('accepts e = 65537 (the minimum) with a real signature', async () => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
    const csr = buildCsr({ spki: publicKey.export({ type: 'spki', format: 'der' }), sigAlg: rsaSha256, sign: (info) => crypto.sign('sha256', info, privateKey) });
    const cert = await ca.issueForCsr({ spiffeId: ID, csr });
    expect(new crypto.X509Certificate(leafOf(cert.chainPem)).checkPrivateKey(privateKey)).toBe(true);
  });

  it.each([
    {
      name: 'an EC key with an RSA signature algorithm',
      keys: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      sigAlg: rsaSha256,
    },
    {
      name: 'an RSA key with an ECDSA signature algorithm',
      keys: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
      sigAlg: ecdsaSha256,
    },
  ])('refuses $name even though the signature itself verifies', async ({ keys, sigAlg }) => {
    const { publicKey, privateKey } = keys();
    const csr = buildCsr({ spki: publicKey.export({ type: 'spki', format: 'der' }), sigAlg, sign: (info) => crypto.sign('sha256', info, privateKey) });
    const err = await rejection(csr);
    expect(err.code).toBe('ERR_CSR_INVALID');
    expect(err.details.reason).toBe('signature-algorithm-mismatch');
  });

  it.each([1, 2])('refuses CertificationRequestInfo version %i (only v1 = 0 exists)', async (version) => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = buildCsr({ spki: publicKey.export({ type: 'spki', format: 'der' }), sigAlg: ecdsaSha256, sign: (info) => crypto.sign('sha256', info, privateKey), version });
    const err = await rejection(csr);
    expect(err.code).toBe('ERR_CSR_INVALID');
    expect(err.details.reason).toBe('version');
  });

  it('refuses a signature BIT STRING with unused bits', async () => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = buildCsr({ spki: publicKey.export({ type: 'spki', format: 'der' }), sigAlg: ecdsaSha256, sign: (info) => crypto.sign('sha256', info, privateKey), unusedBits: 3 });
    expect((await rejection(csr)).code).toBe('ERR_CSR_INVALID');
  });
});

describe.runIf(hasTools('openssl'))('non-DER public keys are re-encoded canonically', () => {
  it.each([
    { name: 'EC P-256, every SPKI length in long form', keys: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }), sigAlg: ecdsaSha256, inner: false },
    { name: 'EC P-384, every SPKI length in long form', keys: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }), sigAlg: seq(oid(OID.ecdsaSha384)), inner: false },
    { name: 'RSA-2048, long-form lengths outside and inside the key', keys: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), sigAlg: rsaSha256, inner: true },
  ])('$name: the leaf carries canonical DER that OpenSSL and Node parse', async ({ keys, sigAlg, inner }) => {
    const { publicKey, privateKey } = keys();
    const canonical = publicKey.export({ type: 'spki', format: 'der' });
    const ber = berify(canonical, inner);
    expect(ber.equals(canonical)).toBe(false);
    const hash = publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
    const csr = buildCsr({ spki: ber, sigAlg, sign: (info) => crypto.sign(hash, info, privateKey) });
    const cert = await ca.issueForCsr({ spiffeId: ID, csr });
    const leafPem = leafOf(cert.chainPem);
    const leaf = new crypto.X509Certificate(leafPem);
    expect(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(canonical)).toBe(true);
    expect(leaf.raw.includes(canonical)).toBe(true);
    expect(leaf.raw.includes(ber)).toBe(false);
    expect(leaf.checkPrivateKey(privateKey)).toBe(true);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leafPem }).toString();
    expect(text).toContain(`URI:${ID}`);
    expect((await opensslVerify(cert.chainPem, ca.bundle().pem, 'sslclient')).ok).toBe(true);
    // SKI = SHA-1 of the canonical subjectPublicKey bits (RFC 5280 4.2.1.2 method 1), not of the BER the caller sent.
    const keyBits =
      publicKey.asymmetricKeyType === 'rsa'
        ? publicKey.export({ type: 'pkcs1', format: 'der' })
        : Buffer.from(canonical.subarray(canonical.length - (publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 97 : 65)));
    const ski = crypto.createHash('sha1').update(keyBits).digest('hex').toUpperCase().match(/../g)!.join(':');
    expect(text).toMatch(new RegExp(`Subject Key Identifier:\\s+${ski}`));
  });
});

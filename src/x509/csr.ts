import crypto from 'node:crypto';
import { WcaError, type ReasonOf } from '../errors.js';
import { limits } from '../limits.js';
import { readTlv, children, expectTag, oidString, bytesOf, wholeOf, type Tlv } from './der-reader.js';
import { pemBlocks, seq, uint, bitString } from './der.js';
import { ecSpki, rsaAlgorithmId } from './keys.js';
import { OID } from './oids.js';

/** What a leaf needs from a CSR. Subject and requested SANs are ignored: the grant decides. */
export interface ParsedCsr {
  /** Canonical DER, rebuilt from the key's parts: never the caller's bytes. */
  spkiDer: Buffer;
  publicKeyBits: Buffer;
  keyKind: 'ec' | 'rsa';
}

/** Why a CSR was refused, in `details.reason`. */
type CsrCode = 'ERR_CSR_INVALID' | 'ERR_CSR_SIGNATURE' | 'ERR_CSR_REQUESTS_CA' | 'ERR_KEY_TYPE_UNSUPPORTED';
export type CsrProblem = ReasonOf<CsrCode>;

type VerifyKey = crypto.KeyObject | crypto.webcrypto.CryptoKey;
type KeyKind = ParsedCsr['keyKind'];

const SIGNATURES: Record<string, { hash: string; key: KeyKind }> = {
  [OID.ecdsaSha256]: { hash: 'sha256', key: 'ec' },
  [OID.ecdsaSha384]: { hash: 'sha384', key: 'ec' },
  [OID.rsaSha256]: { hash: 'sha256', key: 'rsa' },
  [OID.rsaSha384]: { hash: 'sha384', key: 'rsa' },
  [OID.rsaSha512]: { hash: 'sha512', key: 'rsa' },
};

const EC_CURVES: Record<string, { crv: string; size: number }> = {
  [OID.p256]: { crv: 'P-256', size: 32 },
  [OID.p384]: { crv: 'P-384', size: 48 },
};

const RSA_MIN_BITS = 2048;
/**
 * CA/Browser Forum baseline (and FIPS 186-5): an odd e with 2^16 < e < 2^256.
 * Small exponents (3) invite low-exponent attacks on badly padded signatures;
 * larger ones only make verification slow.
 */
const RSA_EXPONENT_MIN = (1n << 16n) + 1n;
const RSA_EXPONENT_LIMIT = 1n << 256n;

function refuse<C extends CsrCode>(code: C, reason: ReasonOf<C>, message: string): never {
  throw new WcaError(code, message, { details: { reason } });
}

export function csrToDer(csr: Uint8Array | string): Buffer {
  if (typeof csr !== 'string') return Buffer.isBuffer(csr) ? csr : Buffer.from(csr.buffer, csr.byteOffset, csr.byteLength);
  const blocks = pemBlocks(csr, 'CERTIFICATE REQUEST');
  if (blocks.length !== 1) refuse('ERR_CSR_INVALID', 'pem', 'CSR must be DER or exactly one PEM "CERTIFICATE REQUEST" block');
  return blocks[0]!;
}

interface CsrParts {
  info: Tlv;
  keyAlg: string;
  /** The AlgorithmIdentifier's parameters, when present. */
  keyParams?: Tlv;
  keyBits: Buffer;
  attrs?: Tlv;
  sigAlg: string;
  sigAlgParams: Tlv[];
  sig: Buffer;
}

/**
 * Parses a PKCS#10 request and verifies its self-signature (proof that the caller
 * holds the key). The key must be one a certificate may carry (EC P-256/P-384, or
 * RSA with a modulus of 2048..8192 bits and an odd exponent from 65537 below
 * 2^256: with e = 1 any "signature" verifies), the signature algorithm must belong to the key's type,
 * and the key that goes into the leaf is re-encoded from its parts, so a
 * BER-encoded request never yields a certificate that other parsers refuse.
 */
export async function parseAndVerifyCsr(der: Buffer): Promise<ParsedCsr> {
  if (der.length > limits.csrMaxBytes) {
    refuse('ERR_CSR_INVALID', 'too-large', `CSR is ${der.length} bytes; the limit is ${limits.csrMaxBytes}`);
  }
  const parts = parseStructure(der);
  const signature = SIGNATURES[parts.sigAlg];
  if (!signature) {
    refuse('ERR_KEY_TYPE_UNSUPPORTED', 'signature-algorithm', `CSR signature algorithm ${parts.sigAlg} is not supported (use ECDSA or RSA PKCS#1 v1.5 with SHA-2)`);
  }
  checkSignatureParams(parts.sigAlgParams, signature.key);

  const { key, spkiDer, publicKeyBits, keyKind } =
    parts.keyAlg === OID.ecPublicKey
      ? await ecKey(der, parts)
      : parts.keyAlg === OID.rsaEncryption
        ? rsaKey(parts)
        : refuse('ERR_KEY_TYPE_UNSUPPORTED', 'key-algorithm', `CSR key algorithm ${parts.keyAlg} is not supported (use EC P-256/P-384 or RSA)`);
  if (signature.key !== keyKind) {
    refuse('ERR_CSR_INVALID', 'signature-algorithm-mismatch', `CSR signature algorithm ${parts.sigAlg} does not belong to its ${keyKind.toUpperCase()} key`);
  }

  let verified: boolean;
  try {
    // Node accepts a CryptoKey here (documented since v15); @types/node 20 does not list it.
    verified = crypto.verify(signature.hash, wholeOf(der, parts.info), key as crypto.KeyObject, parts.sig);
  } catch {
    verified = false;
  }
  if (!verified) refuse('ERR_CSR_SIGNATURE', 'signature', 'CSR signature does not verify with its own public key');
  if (parts.attrs && requestsCa(der, parts.attrs)) {
    refuse('ERR_CSR_REQUESTS_CA', 'requests-ca', 'CSR asks for a CA certificate (basicConstraints cA=TRUE); workload certificates are never CAs');
  }
  return { spkiDer, publicKeyBits, keyKind };
}

function parseStructure(der: Buffer): CsrParts {
  try {
    const outer = expectTag(readTlv(der, 0), 0x30, 'CertificationRequest');
    if (outer.end !== der.length) throw new RangeError('trailing bytes after CSR');
    const [info, sigAlgT, sigT] = children(der, outer);
    expectTag(info, 0x30, 'CertificationRequestInfo');
    const [version, , spki, attrs] = children(der, info!);
    expectTag(version, 0x02, 'version');
    // PKCS#10 knows only v1, encoded 0.
    if (version!.end - version!.contentStart !== 1 || der[version!.contentStart] !== 0) {
      refuse('ERR_CSR_INVALID', 'version', 'CSR version must be 0 (PKCS#10 v1)');
    }
    const spkiParts = children(der, expectTag(spki, 0x30, 'SubjectPublicKeyInfo'));
    if (spkiParts.length !== 2) throw new RangeError('SubjectPublicKeyInfo must have two fields');
    const [algT, keyBitsT] = spkiParts;
    const [keyAlgT, keyParams, ...extra] = children(der, expectTag(algT, 0x30, 'algorithm'));
    if (extra.length > 0) throw new RangeError('key AlgorithmIdentifier has extra fields');
    const keyBits = bytesOf(der, expectTag(keyBitsT, 0x03, 'subjectPublicKey'));
    if (keyBits[0] !== 0) throw new RangeError('public key bit string has unused bits');
    const sigBits = bytesOf(der, expectTag(sigT, 0x03, 'signature'));
    if (sigBits[0] !== 0) throw new RangeError('signature bit string has unused bits');
    const [sigAlgOid, ...sigAlgParams] = children(der, expectTag(sigAlgT, 0x30, 'signatureAlgorithm'));
    return {
      info: info!,
      keyAlg: oidString(der, keyAlgT!),
      ...(keyParams ? { keyParams } : {}),
      keyBits: Buffer.from(keyBits.subarray(1)),
      ...(attrs?.tag === 0xa0 ? { attrs } : {}),
      sigAlg: oidString(der, sigAlgOid!),
      sigAlgParams,
      sig: Buffer.from(sigBits.subarray(1)),
    };
  } catch (err) {
    if (err instanceof WcaError) throw err;
    refuse('ERR_CSR_INVALID', 'malformed', `CSR is not a valid PKCS#10 request: ${(err as Error).message}`);
  }
}

const isNull = (t: Tlv | undefined) => t !== undefined && t.tag === 0x05 && t.end === t.contentStart;

/** RFC 5758: ECDSA parameters are absent; RFC 4055: RSA PKCS#1 v1.5 parameters are NULL (or absent). Exported for bench/csr-checks.ts. */
export function checkSignatureParams(params: Tlv[], key: KeyKind): void {
  const ok = params.length === 0 || (key === 'rsa' && params.length === 1 && isNull(params[0]));
  if (!ok) refuse('ERR_CSR_INVALID', 'signature-algorithm', 'CSR signature algorithm has unexpected parameters');
}

interface ImportedKey {
  key: VerifyKey;
  spkiDer: Buffer;
  publicKeyBits: Buffer;
  keyKind: KeyKind;
}

/**
 * EC points are imported raw through WebCrypto, which checks the point is on the
 * curve (sufficient for these cofactor-1 curves) without the full key check of
 * the JWK path (~25 µs saved); node's SPKI decoder is slower still.
 */
async function ecKey(der: Buffer, parts: CsrParts): Promise<ImportedKey> {
  const curveOid = parts.keyParams?.tag === 0x06 ? oidString(der, parts.keyParams) : undefined;
  const curve = curveOid ? EC_CURVES[curveOid] : undefined;
  if (!curve) refuse('ERR_KEY_TYPE_UNSUPPORTED', 'ec-curve', 'CSR EC key must be on P-256 or P-384');
  const point = parts.keyBits;
  if (point.length !== 1 + 2 * curve.size || point[0] !== 4) {
    refuse('ERR_CSR_INVALID', 'ec-point', 'CSR EC public key must be an uncompressed point');
  }
  let key: VerifyKey;
  try {
    // crypto.verify takes the CryptoKey itself; wrapping it in a KeyObject costs ~10 µs.
    key = await crypto.webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: curve.crv }, false, ['verify']);
  } catch {
    refuse('ERR_CSR_INVALID', 'ec-point', 'CSR EC public key is not a point on its curve');
  }
  return { key, spkiDer: ecSpki(curveOid!, point), publicKeyBits: point, keyKind: 'ec' };
}

function rsaKey(parts: CsrParts): ImportedKey {
  if (parts.keyParams !== undefined && !isNull(parts.keyParams)) {
    refuse('ERR_CSR_INVALID', 'rsa-key', 'CSR RSA key algorithm parameters must be NULL');
  }
  const { spkiDer, publicKeyBits } = canonicalRsaKey(parts.keyBits);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    refuse('ERR_CSR_INVALID', 'rsa-key', 'CSR public key cannot be decoded');
  }
  return { key, spkiDer, publicKeyBits, keyKind: 'rsa' };
}

/**
 * RSAPublicKey { modulus, publicExponent } read with our DER reader (which takes
 * BER lengths), checked, and written back as canonical DER before OpenSSL sees it.
 * Exported for bench/csr-checks.ts, which prices these checks.
 */
export function canonicalRsaKey(keyBits: Buffer): { spkiDer: Buffer; publicKeyBits: Buffer } {
  const [n, e] = rsaIntegers(keyBits);
  const bits = n.length === 0 ? 0 : n.length * 8 - Math.clz32(n[0]!) + 24;
  if (bits < RSA_MIN_BITS || bits > limits.csrRsaMaxModulusBits) {
    refuse('ERR_KEY_TYPE_UNSUPPORTED', 'rsa-modulus', `CSR RSA key is ${bits} bits; at least ${RSA_MIN_BITS} and at most ${limits.csrRsaMaxModulusBits} required`);
  }
  const exponent = e.length === 0 ? 0n : BigInt(`0x${e.toString('hex')}`);
  if (exponent < RSA_EXPONENT_MIN || exponent % 2n === 0n || exponent >= RSA_EXPONENT_LIMIT) {
    refuse('ERR_KEY_TYPE_UNSUPPORTED', 'rsa-exponent', `CSR RSA public exponent ${exponent < 1n << 64n ? exponent : 'given'} must be odd, at least 65537 (2^16+1) and below 2^256`);
  }
  const publicKeyBits = seq(uint(n), uint(e));
  return { spkiDer: seq(rsaAlgorithmId, bitString(publicKeyBits)), publicKeyBits };
}

/** Modulus and exponent as unsigned big-endian bytes without leading zeros. */
function rsaIntegers(bits: Buffer): [Buffer, Buffer] {
  try {
    const outer = expectTag(readTlv(bits, 0), 0x30, 'RSAPublicKey');
    if (outer.end !== bits.length) throw new RangeError('trailing bytes after RSAPublicKey');
    const fields = children(bits, outer);
    if (fields.length !== 2) throw new RangeError('RSAPublicKey must have two fields');
    return [positive(bits, fields[0], 'modulus'), positive(bits, fields[1], 'publicExponent')];
  } catch (err) {
    if (err instanceof WcaError) throw err;
    refuse('ERR_CSR_INVALID', 'rsa-key', `CSR RSA public key is malformed: ${(err as Error).message}`);
  }
}

function positive(buf: Buffer, t: Tlv | undefined, what: string): Buffer {
  const bytes = bytesOf(buf, expectTag(t, 0x02, what));
  if (bytes.length === 0 || bytes[0]! & 0x80) throw new RangeError(`${what} must be a positive INTEGER`);
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i));
}

/** True when the extensionRequest attribute carries basicConstraints with cA = TRUE. */
function requestsCa(der: Buffer, attrs: Tlv): boolean {
  try {
    for (const attr of children(der, attrs)) {
      const [typeT, valuesT] = children(der, attr);
      if (oidString(der, typeT!) !== OID.extensionRequest) continue;
      for (const extensions of children(der, expectTag(valuesT, 0x31, 'attribute values'))) {
        for (const ext of children(der, extensions)) {
          const fields = children(der, ext);
          if (oidString(der, fields[0]!) !== OID.basicConstraints) continue;
          const value = expectTag(fields[fields.length - 1], 0x04, 'extnValue');
          const bc = readTlv(der, value.contentStart, value.end);
          const first = children(der, bc)[0];
          if (first?.tag === 0x01 && der[first.contentStart] !== 0) return true;
        }
      }
    }
    return false;
  } catch (err) {
    refuse('ERR_CSR_INVALID', 'malformed', `CSR attributes are malformed: ${(err as Error).message}`);
  }
}

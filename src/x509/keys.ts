import crypto from 'node:crypto';
import { seq, oid, bitString, octetString, smallInt, explicit, NULL } from './der.js';
import { OID } from './oids.js';
import type { KeyType } from './key-types.js';

/** A freshly generated leaf key, already in the encodings a certificate and Envoy need. */
export interface LeafKeyMaterial {
  spkiDer: Buffer;
  /** The subjectPublicKey BIT STRING contents; SHA-1 of it is the SKI (RFC 5280 4.2.1.2 method 1). */
  publicKeyBits: Buffer;
  pkcs8Der: Buffer;
}

const EC_CURVES = {
  'ec-p256': { ecdh: 'prime256v1', oid: OID.p256, size: 32 },
  'ec-p384': { ecdh: 'secp384r1', oid: OID.p384, size: 48 },
} as const;

const algIdCache = new Map<string, Buffer>();

function ecAlgId(curveOid: string): Buffer {
  let algId = algIdCache.get(curveOid);
  if (!algId) algIdCache.set(curveOid, (algId = seq(oid(OID.ecPublicKey), oid(curveOid))));
  return algId;
}

/** Everything before the point, per curve and point length: the hot path copies it, not re-encodes it. */
const spkiPrefixCache = new Map<string, Buffer>();

/** Canonical SubjectPublicKeyInfo of an EC point on a named curve. */
export function ecSpki(curveOid: string, point: Uint8Array): Buffer {
  const key = `${curveOid}:${point.length}`;
  let prefix = spkiPrefixCache.get(key);
  if (!prefix) {
    const whole = seq(ecAlgId(curveOid), bitString(Buffer.alloc(point.length)));
    spkiPrefixCache.set(key, (prefix = whole.subarray(0, whole.length - point.length)));
  }
  return Buffer.concat([prefix, point]);
}

/** rsaEncryption AlgorithmIdentifier with the NULL parameters RFC 3279 requires. */
export const rsaAlgorithmId = seq(oid(OID.rsaEncryption), NULL);

/**
 * EC keys through ECDH and hand-built DER: node's OpenSSL 3 encoders manage about
 * 4k keys/s; raw scalars and points are several times faster.
 */
function generateEcKey(type: keyof typeof EC_CURVES): LeafKeyMaterial {
  const curve = EC_CURVES[type];
  const algId = ecAlgId(curve.oid);
  const ecdh = crypto.createECDH(curve.ecdh);
  const point = ecdh.generateKeys();
  let d = ecdh.getPrivateKey();
  // getPrivateKey drops leading zero bytes; RFC 5915 wants the full field size.
  if (d.length < curve.size) d = Buffer.concat([Buffer.alloc(curve.size - d.length), d]);
  const ecPrivateKey = seq(smallInt(1), octetString(d), explicit(1, bitString(point)));
  d.fill(0);
  return {
    spkiDer: ecSpki(curve.oid, point),
    publicKeyBits: point,
    pkcs8Der: seq(smallInt(0), algId, octetString(ecPrivateKey)),
  };
}

function generateRsaKey(bits: number): LeafKeyMaterial {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const rsaPublicKey = publicKey.export({ type: 'pkcs1', format: 'der' });
  return { spkiDer, publicKeyBits: rsaPublicKey, pkcs8Der: privateKey.export({ type: 'pkcs8', format: 'der' }) };
}

export function generateLeafKey(type: KeyType): LeafKeyMaterial {
  switch (type) {
    case 'ec-p256':
    case 'ec-p384':
      return generateEcKey(type);
    case 'rsa-2048':
      return generateRsaKey(2048);
    case 'rsa-3072':
      return generateRsaKey(3072);
  }
}

/** Signature algorithm a CA key signs leaves with, and its AlgorithmIdentifier DER. */
export function signatureAlgorithmFor(caKey: crypto.KeyObject): { hash: 'sha256' | 'sha384'; algIdDer: Buffer } {
  if (caKey.asymmetricKeyType === 'ec') {
    const curve = caKey.asymmetricKeyDetails?.namedCurve;
    return curve === 'secp384r1'
      ? { hash: 'sha384', algIdDer: seq(oid(OID.ecdsaSha384)) }
      : { hash: 'sha256', algIdDer: seq(oid(OID.ecdsaSha256)) };
  }
  if (caKey.asymmetricKeyType === 'rsa') return { hash: 'sha256', algIdDer: seq(oid(OID.rsaSha256), NULL) };
  throw new Error(`unsupported CA key type ${caKey.asymmetricKeyType}`);
}

import crypto from 'node:crypto';
import { seq, tlv, oid, octetString, bitString, explicit, time, uint, BOOLEAN_TRUE } from './der.js';
import { OID } from './oids.js';

/**
 * X.509-SVID leaf encoding (SPIFFE X509-SVID spec + RFC 5280), built from parts
 * that are encoded once per CA and per process; per leaf only the serial,
 * validity, SANs and key are new bytes.
 */

/** What a signing CA contributes to every leaf; built once per CA slot. */
export interface LeafCaProfile {
  /** DER of the CA certificate's subject Name: the leaf's issuer. */
  issuerDer: Buffer;
  /** DER of the CA's SubjectKeyIdentifier value: the leaf's AKI. */
  caKeyId: Buffer;
  /** AlgorithmIdentifier of the CA's signature over leaves. */
  signatureAlgDer: Buffer;
}

export interface LeafFields {
  /** Positive serial, DER INTEGER content bytes. */
  serial: Buffer;
  notBeforeMs: number;
  notAfterMs: number;
  spkiDer: Buffer;
  publicKeyBits: Buffer;
  spiffeId: string;
  dnsNames: readonly string[];
  /** RSA leaf keys also get keyEncipherment (RSA key transport). */
  rsa: boolean;
}

const VERSION_3 = explicit(0, uint(Buffer.from([2])));
const ext = (id: string, critical: boolean, value: Buffer) =>
  critical ? seq(oid(id), BOOLEAN_TRUE, octetString(value)) : seq(oid(id), octetString(value));

const BASIC_CONSTRAINTS_LEAF = ext(OID.basicConstraints, true, seq());
// digitalSignature (bit 0); with keyEncipherment (bit 2) for RSA.
const KEY_USAGE_EC = ext(OID.keyUsage, true, Buffer.from([0x03, 0x02, 0x07, 0x80]));
const KEY_USAGE_RSA = ext(OID.keyUsage, true, Buffer.from([0x03, 0x02, 0x05, 0xa0]));
const EXT_KEY_USAGE = ext(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth)));
// An empty subject: the SPIFFE ID lives in the SAN, which RFC 5280 4.2.1.6 then requires to be critical.
const EMPTY_NAME = seq();

const akiCache = new WeakMap<Buffer, Buffer>();

function authorityKeyIdExt(caKeyId: Buffer): Buffer {
  let aki = akiCache.get(caKeyId);
  if (!aki) akiCache.set(caKeyId, (aki = ext(OID.authorityKeyIdentifier, false, seq(tlv(0x80, caKeyId)))));
  return aki;
}

function subjectAltName(spiffeId: string, dnsNames: readonly string[]): Buffer {
  const names = [tlv(0x86, Buffer.from(spiffeId, 'latin1'))];
  for (const dns of dnsNames) names.push(tlv(0x82, Buffer.from(dns, 'latin1')));
  return ext(OID.subjectAltName, true, seq(...names));
}

export function encodeLeafTbs(ca: LeafCaProfile, f: LeafFields): Buffer {
  const ski = crypto.createHash('sha1').update(f.publicKeyBits).digest();
  const extensions = explicit(
    3,
    seq(
      BASIC_CONSTRAINTS_LEAF,
      f.rsa ? KEY_USAGE_RSA : KEY_USAGE_EC,
      EXT_KEY_USAGE,
      ext(OID.subjectKeyIdentifier, false, octetString(ski)),
      authorityKeyIdExt(ca.caKeyId),
      subjectAltName(f.spiffeId, f.dnsNames),
    ),
  );
  return seq(
    VERSION_3,
    uint(f.serial),
    ca.signatureAlgDer,
    ca.issuerDer,
    seq(time(f.notBeforeMs), time(f.notAfterMs)),
    EMPTY_NAME,
    f.spkiDer,
    extensions,
  );
}

export function assembleCertificate(tbs: Buffer, signatureAlgDer: Buffer, signature: Buffer): Buffer {
  return seq(tbs, signatureAlgDer, bitString(signature));
}

/** 16 random bytes with the top bits fixed to 01: always positive, always 16 bytes, 126 bits of entropy. */
export function randomSerial(): Buffer {
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  return serial;
}

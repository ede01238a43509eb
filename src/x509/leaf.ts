import crypto from 'node:crypto';
import { seq, tlv, oid, octetString, bitString, explicit, time, generalizedTime, uint, derLength, BOOLEAN_TRUE } from './der.js';
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
  /** When this SVID's renewal lineage began (the wcaLineageStart extension). */
  lineageStartMs: number;
  /** Which lineage it is: LINEAGE_ID_LENGTH bytes, in the same extension. */
  lineageId: Uint8Array;
}

const VERSION_3 = explicit(0, uint(Buffer.from([2])));
const ext = (id: string, critical: boolean, value: Buffer) =>
  critical ? seq(oid(id), BOOLEAN_TRUE, octetString(value)) : seq(oid(id), octetString(value));

const BASIC_CONSTRAINTS_LEAF = ext(OID.basicConstraints, true, seq());
// digitalSignature (bit 0); with keyEncipherment (bit 2) for RSA.
const KEY_USAGE_EC = ext(OID.keyUsage, true, Buffer.from([0x03, 0x02, 0x07, 0x80]));
const KEY_USAGE_RSA = ext(OID.keyUsage, true, Buffer.from([0x03, 0x02, 0x05, 0xa0]));
const EXT_KEY_USAGE = ext(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth)));
/** Bytes of a lineage id: random, so 128 bits keep distinct lineages apart. */
export const LINEAGE_ID_LENGTH = 16;
const lineageExt = (ms: number, id: Uint8Array) => ext(OID.wcaLineageStart, false, seq(generalizedTime(ms), octetString(Buffer.from(id))));
/** Content bytes of the lineage GeneralizedTime, followed by the id's OCTET STRING at the very end of the extension. */
const LINEAGE_TIME_LENGTH = 15;
const LINEAGE_ID_TLV_LENGTH = 2 + LINEAGE_ID_LENGTH;
// An empty subject: the SPIFFE ID lives in the SAN, which RFC 5280 4.2.1.6 then requires to be critical.
const EMPTY_NAME = seq();

/**
 * The TBS of every leaf from one CA and key type differs only in serial, validity,
 * key, SKI, lineage and SANs, and all but the SANs have fixed lengths. So the bytes before
 * the SAN extension are a template copied per leaf with those fields written in
 * place; only the three enclosing lengths are computed.
 */
interface Template {
  body: Buffer;
  serialAt: number;
  notBeforeAt: number;
  notAfterAt: number;
  spkiAt: number;
  skiAt: number;
  lineageAt: number;
  lineageIdAt: number;
  /** Bytes of the extensions list before the SAN extension. */
  extsPrefixLength: number;
}

const SERIAL_LENGTH = 16;
const PLACEHOLDER_TIME = time(Date.UTC(2000, 0, 1));
const templates = new WeakMap<LeafCaProfile, Map<string, Template>>();

function buildTemplate(ca: LeafCaProfile, spkiLength: number, rsa: boolean): Template {
  const serial = uint(Buffer.alloc(SERIAL_LENGTH, 0x40));
  const validity = seq(PLACEHOLDER_TIME, PLACEHOLDER_TIME);
  const spki = Buffer.alloc(spkiLength);
  const skiExt = ext(OID.subjectKeyIdentifier, false, octetString(Buffer.alloc(20)));
  const aki = ext(OID.authorityKeyIdentifier, false, seq(tlv(0x80, ca.caKeyId)));
  const extsPrefix = Buffer.concat([BASIC_CONSTRAINTS_LEAF, rsa ? KEY_USAGE_RSA : KEY_USAGE_EC, EXT_KEY_USAGE, skiExt, aki, lineageExt(Date.UTC(2000, 0, 1), Buffer.alloc(LINEAGE_ID_LENGTH))]);
  const before = Buffer.concat([VERSION_3, serial, ca.signatureAlgDer, ca.issuerDer]);
  const body = Buffer.concat([before, validity, EMPTY_NAME, spki, extsPrefix]);
  const validityAt = before.length;
  const spkiAt = validityAt + validity.length + EMPTY_NAME.length;
  const extsAt = spkiAt + spki.length;
  return {
    body,
    serialAt: VERSION_3.length + serial.length - SERIAL_LENGTH,
    notBeforeAt: validityAt + 2,
    notAfterAt: validityAt + 2 + PLACEHOLDER_TIME.length,
    spkiAt,
    skiAt: extsAt + BASIC_CONSTRAINTS_LEAF.length + (rsa ? KEY_USAGE_RSA : KEY_USAGE_EC).length + EXT_KEY_USAGE.length + skiExt.length - 20,
    lineageAt: extsAt + extsPrefix.length - LINEAGE_ID_TLV_LENGTH - LINEAGE_TIME_LENGTH,
    lineageIdAt: extsAt + extsPrefix.length - LINEAGE_ID_LENGTH,
    extsPrefixLength: extsPrefix.length,
  };
}

function templateFor(ca: LeafCaProfile, spkiLength: number, rsa: boolean): Template {
  let byKey = templates.get(ca);
  if (!byKey) templates.set(ca, (byKey = new Map()));
  const key = `${spkiLength}:${rsa}`;
  let t = byKey.get(key);
  if (!t) byKey.set(key, (t = buildTemplate(ca, spkiLength, rsa)));
  return t;
}

function subjectAltName(spiffeId: string, dnsNames: readonly string[]): Buffer {
  const names = [tlv(0x86, Buffer.from(spiffeId, 'latin1'))];
  for (const dns of dnsNames) names.push(tlv(0x82, Buffer.from(dns, 'latin1')));
  return ext(OID.subjectAltName, true, seq(...names));
}

export function encodeLeafTbs(ca: LeafCaProfile, f: LeafFields): Buffer {
  if (f.serial.length !== SERIAL_LENGTH || f.serial[0]! & 0x80 || f.serial[0] === 0) {
    throw new RangeError('serial must be 16 bytes with the top bit clear and a non-zero first byte');
  }
  if (f.lineageId.length !== LINEAGE_ID_LENGTH) throw new RangeError(`lineage id must be ${LINEAGE_ID_LENGTH} bytes`);
  const notBefore = time(f.notBeforeMs);
  const notAfter = time(f.notAfterMs);
  // Validity uses UTCTime (13 bytes) until 2049; after that the fixed layout does not hold.
  if (notBefore.length !== PLACEHOLDER_TIME.length || notAfter.length !== PLACEHOLDER_TIME.length) {
    return encodeLeafTbsGeneric(ca, f);
  }
  const t = templateFor(ca, f.spkiDer.length, f.rsa);
  const san = subjectAltName(f.spiffeId, f.dnsNames);
  const extsSeqHeader = Buffer.concat([Buffer.from([0x30]), derLength(t.extsPrefixLength + san.length)]);
  const extsContentLength = extsSeqHeader.length + t.extsPrefixLength + san.length;
  const extsHeader = Buffer.concat([Buffer.from([0xa3]), derLength(extsContentLength)]);
  const bodyBeforeExts = t.body.length - t.extsPrefixLength;
  const tbsContentLength = bodyBeforeExts + extsHeader.length + extsContentLength;
  const tbsHeader = Buffer.concat([Buffer.from([0x30]), derLength(tbsContentLength)]);

  const out = Buffer.allocUnsafe(tbsHeader.length + tbsContentLength);
  let p = tbsHeader.copy(out, 0);
  const base = p;
  p += t.body.copy(out, p, 0, bodyBeforeExts);
  p += extsHeader.copy(out, p);
  p += extsSeqHeader.copy(out, p);
  p += t.body.copy(out, p, bodyBeforeExts);
  san.copy(out, p);

  f.serial.copy(out, base + t.serialAt);
  notBefore.copy(out, base + t.notBeforeAt);
  notAfter.copy(out, base + t.notAfterAt);
  f.spkiDer.copy(out, base + t.spkiAt);
  const shift = base + extsHeader.length + extsSeqHeader.length;
  crypto.createHash('sha1').update(f.publicKeyBits).digest().copy(out, t.skiAt + shift);
  generalizedTime(f.lineageStartMs).copy(out, t.lineageAt + shift, 2);
  out.set(f.lineageId, t.lineageIdAt + shift);
  return out;
}

/** Straightforward encoding; used for dates from 2050 (GeneralizedTime) and as the reference in tests. */
export function encodeLeafTbsGeneric(ca: LeafCaProfile, f: LeafFields): Buffer {
  const ski = crypto.createHash('sha1').update(f.publicKeyBits).digest();
  const extensions = explicit(
    3,
    seq(
      BASIC_CONSTRAINTS_LEAF,
      f.rsa ? KEY_USAGE_RSA : KEY_USAGE_EC,
      EXT_KEY_USAGE,
      ext(OID.subjectKeyIdentifier, false, octetString(ski)),
      ext(OID.authorityKeyIdentifier, false, seq(tlv(0x80, ca.caKeyId))),
      lineageExt(f.lineageStartMs, f.lineageId),
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

// One call into OpenSSL's RNG per 256 serials: a 16-byte randomBytes costs ~8 µs, mostly call overhead.
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

/** 16 random bytes with the top bits fixed to 01: always positive, always 16 bytes, 126 bits of entropy. */
export function randomSerial(): Buffer {
  if (randomOffset + SERIAL_LENGTH > randomPool.length) {
    randomPool = crypto.randomBytes(SERIAL_LENGTH * 256);
    randomOffset = 0;
  }
  const serial = Buffer.from(randomPool.subarray(randomOffset, randomOffset + SERIAL_LENGTH));
  // Serial bytes are never reused: wipe them from the pool once copied out.
  randomPool.fill(0, randomOffset, randomOffset + SERIAL_LENGTH);
  randomOffset += SERIAL_LENGTH;
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  return serial;
}

import { seq, set, tlv, oid, bitString, explicit, smallInt, octetString } from './der.js';
import { OID } from './oids.js';

/**
 * Builds our intermediate's PKCS#10 request by hand, so the signature can come
 * from anywhere (an in-process key, Vault Transit, a KMS): the signer only ever
 * sees the CertificationRequestInfo bytes.
 */
export interface CsrFields {
  /** Subject attributes in order, e.g. [['O', 'workload-ca'], ['CN', 'cluster.local']]. */
  subject: readonly (readonly ['O' | 'CN', string])[];
  publicKeySpki: Buffer;
  /** URI subjectAltName requested (the trust domain's SPIFFE ID). */
  uriSan: string;
  /** AlgorithmIdentifier DER of the signature. */
  signatureAlgDer: Buffer;
}

const NAME_OIDS = { O: '2.5.4.10', CN: '2.5.4.3' } as const;

const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

export function csrInfo(f: CsrFields): Buffer {
  const name = seq(...f.subject.map(([k, v]) => set(seq(oid(NAME_OIDS[k]), utf8(v)))));
  const san = seq(oid(OID.subjectAltName), octetString(seq(tlv(0x86, Buffer.from(f.uriSan, 'latin1')))));
  const extensionRequest = seq(oid(OID.extensionRequest), set(seq(san)));
  return seq(smallInt(0), name, f.publicKeySpki, explicit(0, extensionRequest));
}

export function assembleCsr(info: Buffer, signatureAlgDer: Buffer, signature: Buffer): Buffer {
  return seq(info, signatureAlgDer, bitString(signature));
}

import crypto from 'node:crypto';
import { encodeLeafTbs, assembleCertificate, randomSerial, type LeafCaProfile } from '../x509/leaf.js';
import { generateLeafKey } from '../x509/keys.js';
import { parseAndVerifyCsr } from '../x509/csr.js';
import { pem } from '../x509/der.js';
import type { KeyType } from '../x509/key-types.js';

/**
 * The per-leaf signing step, identical in a signer worker and in-thread. Pure
 * apart from randomness: callers decide identity and validity.
 */

/** What every leaf of one CA shares, wherever its key lives. */
export interface LeafTemplateCa {
  id: string;
  profile: LeafCaProfile;
  hash: 'sha256' | 'sha384';
  /** PEM of the CA certificate and the chain above it (no root), appended to every leaf. */
  chainPemSuffix: string;
}

/** A CA as a signer thread sees it. The key is a KeyObject and is never exported. */
export interface SigningCa extends LeafTemplateCa {
  key: crypto.KeyObject;
}

interface JobBase {
  spiffeId: string;
  dnsNames: readonly string[];
  notBeforeMs: number;
  notAfterMs: number;
  lineageStartMs: number;
  /** LINEAGE_ID_LENGTH bytes naming the renewal lineage. */
  lineageId: Uint8Array;
}

export type SignJob = (JobBase & { kind: 'key'; keyType: KeyType }) | (JobBase & { kind: 'csr'; csrDer: Uint8Array });

export interface SignResult {
  /** The leaf alone: callers append the CA chain, so it does not cross threads per leaf. */
  leafPem: string;
  /** Present for server-generated keys only. */
  privateKeyPem?: string;
  serialHex: string;
}

/** A leaf up to its signature: the TBSCertificate and what the result carries besides. */
export interface PreparedLeaf {
  tbs: Buffer;
  serialHex: string;
  privateKeyPem?: string;
}

export async function signLeaf(ca: SigningCa, job: SignJob): Promise<SignResult> {
  const leaf = await prepareLeaf(ca, job);
  return finishLeaf(ca, leaf, crypto.sign(ca.hash, leaf.tbs, ca.key));
}

/** Key (generated or from the verified CSR), serial and TBS: everything but the CA's signature. */
export async function prepareLeaf(ca: LeafTemplateCa, job: SignJob): Promise<PreparedLeaf> {
  let spkiDer: Buffer;
  let publicKeyBits: Buffer;
  let rsa: boolean;
  let privateKeyPem: string | undefined;
  if (job.kind === 'key') {
    const key = generateLeafKey(job.keyType);
    ({ spkiDer, publicKeyBits } = key);
    rsa = job.keyType.startsWith('rsa');
    privateKeyPem = pem('PRIVATE KEY', key.pkcs8Der);
    key.pkcs8Der.fill(0);
  } else {
    // The job crossed threads as a plain Uint8Array: view it as a Buffer without copying.
    const csr = await parseAndVerifyCsr(Buffer.from(job.csrDer.buffer, job.csrDer.byteOffset, job.csrDer.byteLength));
    ({ spkiDer, publicKeyBits } = csr);
    rsa = csr.keyKind === 'rsa';
  }
  const serial = randomSerial();
  const tbs = encodeLeafTbs(ca.profile, {
    serial,
    notBeforeMs: job.notBeforeMs,
    notAfterMs: job.notAfterMs,
    lineageStartMs: job.lineageStartMs,
    lineageId: job.lineageId,
    spkiDer,
    publicKeyBits,
    spiffeId: job.spiffeId,
    dnsNames: job.dnsNames,
    rsa,
  });
  const leaf: PreparedLeaf = { tbs, serialHex: serial.toString('hex').toUpperCase() };
  if (privateKeyPem !== undefined) leaf.privateKeyPem = privateKeyPem;
  return leaf;
}

export function finishLeaf(ca: LeafTemplateCa, leaf: PreparedLeaf, signature: Buffer): SignResult {
  const certDer = assembleCertificate(leaf.tbs, ca.profile.signatureAlgDer, signature);
  const result: SignResult = { leafPem: pem('CERTIFICATE', certDer), serialHex: leaf.serialHex };
  if (leaf.privateKeyPem !== undefined) result.privateKeyPem = leaf.privateKeyPem;
  return result;
}

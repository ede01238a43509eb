import crypto from 'node:crypto';
import { encodeLeafTbs, assembleCertificate, randomSerial, type LeafCaProfile } from '../x509/leaf.js';
import { generateLeafKey } from '../x509/keys.js';
import { parseAndVerifyCsr } from '../x509/csr.js';
import { pem } from '../x509/der.js';
import type { KeyType } from './types.js';

/**
 * The per-leaf signing step, identical in a signer worker and in-thread. Pure
 * apart from randomness: callers decide identity and validity.
 */

/** A CA as a signer sees it. The key is a KeyObject and is never exported. */
export interface SigningCa {
  id: string;
  key: crypto.KeyObject;
  profile: LeafCaProfile;
  hash: 'sha256' | 'sha384';
  /** PEM of the CA certificate and the chain above it (no root), appended to every leaf. */
  chainPemSuffix: string;
}

interface JobBase {
  spiffeId: string;
  dnsNames: readonly string[];
  notBeforeMs: number;
  notAfterMs: number;
  lineageStartMs: number;
}

export type SignJob = (JobBase & { kind: 'key'; keyType: KeyType }) | (JobBase & { kind: 'csr'; csrDer: Uint8Array });

export interface SignResult {
  /** The leaf alone: callers append the CA chain, so it does not cross threads per leaf. */
  leafPem: string;
  /** Present for server-generated keys only. */
  privateKeyPem?: string;
  serialHex: string;
}

export async function signLeaf(ca: SigningCa, job: SignJob): Promise<SignResult> {
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
    spkiDer,
    publicKeyBits,
    spiffeId: job.spiffeId,
    dnsNames: job.dnsNames,
    rsa,
  });
  const signature = crypto.sign(ca.hash, tbs, ca.key);
  const certDer = assembleCertificate(tbs, ca.profile.signatureAlgDer, signature);
  const result: SignResult = { leafPem: pem('CERTIFICATE', certDer), serialHex: serial.toString('hex').toUpperCase() };
  if (privateKeyPem !== undefined) result.privateKeyPem = privateKeyPem;
  return result;
}

import crypto from 'node:crypto';
import type { UpstreamAuthority } from '../upstream/types.js';
import { validateMintResult, type ValidatedMint } from '../upstream/validate.js';
import { trustDomainId } from '../spiffe/id.js';
import { leafCaProfile } from '../x509/ca-profile.js';
import { pem, pemBlocks } from '../x509/der.js';
import { signatureAlgorithmFor } from '../x509/keys.js';
import { assembleCsr, csrInfo } from '../x509/csr-build.js';
import type { KeyManager } from '../keys/types.js';
import type { SigningCa } from './sign-leaf.js';
import { verifiedSignature, type RemoteSigningCa } from './remote-signer.js';
import type { KeyType } from '../x509/key-types.js';

/** A CA the Authority can sign with: its signer view plus what rotation and bundles need. */
export interface CaSlot {
  id: string;
  /** The key manager's name for the key (no secret). */
  keyId: string;
  /** A local key signs in the signer threads; a remote one through its key manager. */
  signing: SigningCa | RemoteSigningCa;
  notBeforeMs: number;
  notAfterMs: number;
  rootsPem: string[];
  truncated: boolean;
  warnings: string[];
}

/**
 * Has the key manager make a fresh key (in this process, or in Vault Transit and
 * the like), builds and signs the CSR through that key, has the upstream sign
 * it, and checks the answer before anything uses it.
 */
export async function mintIntermediate(options: {
  upstream: UpstreamAuthority;
  keyManager: KeyManager;
  trustDomain: string;
  keyType: KeyType;
  ttlSeconds: number;
  nowMs: number;
  signal?: AbortSignal;
}): Promise<CaSlot> {
  const caKey = await options.keyManager.generateKey(options.keyType, options.signal);
  const publicKey = crypto.createPublicKey({ key: caKey.publicKeySpki, format: 'der', type: 'spki' });
  const algorithm = signatureAlgorithmFor(publicKey);
  const info = csrInfo({
    subject: [
      ['O', 'workload-ca'],
      ['CN', options.trustDomain],
    ],
    publicKeySpki: caKey.publicKeySpki,
    uriSan: trustDomainId(options.trustDomain),
    signatureAlgDer: algorithm.algIdDer,
  });
  const csrDer = assembleCsr(info, algorithm.algIdDer, await verifiedSignature(caKey, publicKey, algorithm.hash, info, options.signal));
  const result = await options.upstream.mintIntermediate(
    {
      csrDer: new Uint8Array(csrDer),
      csrPem: pem('CERTIFICATE REQUEST', csrDer),
      trustDomain: options.trustDomain,
      ttlSeconds: options.ttlSeconds,
    },
    options.signal,
  );
  const validated: ValidatedMint = validateMintResult(result, {
    publicKeySpkiDer: caKey.publicKeySpki,
    trustDomain: options.trustDomain,
    requestedNotAfter: new Date(options.nowMs + options.ttlSeconds * 1000),
    now: new Date(options.nowMs),
  });
  options.keyManager.retainUntil(caKey, validated.notAfter.getTime());
  const certDer = pemBlocks(validated.certificatePem)[0]!;
  const profile = leafCaProfile(certDer, publicKey);
  // The authority ID operators type and audit logs carry: hex of the Subject Key Identifier.
  const id = profile.caKeyId.toString('hex');
  const template = {
    id,
    profile: { issuerDer: profile.issuerDer, caKeyId: profile.caKeyId, signatureAlgDer: profile.signatureAlgDer },
    hash: profile.hash,
    chainPemSuffix: validated.chainPem.join(''),
  };
  return {
    id,
    keyId: caKey.id,
    signing: caKey.keyObject ? { ...template, key: caKey.keyObject } : { ...template, remote: { key: caKey, publicKey } },
    notBeforeMs: validated.notBefore.getTime(),
    notAfterMs: validated.notAfter.getTime(),
    rootsPem: validated.rootsPem,
    truncated: validated.truncated,
    warnings: validated.warnings,
  };
}

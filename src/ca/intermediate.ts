import crypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { UpstreamAuthority } from '../upstream/types.js';
import { validateMintResult, type ValidatedMint } from '../upstream/validate.js';
import { trustDomainId } from '../spiffe/id.js';
import { leafCaProfile } from '../x509/ca-profile.js';
import { pemBlocks } from '../x509/der.js';
import type { SigningCa } from './sign-leaf.js';
import type { KeyType } from './types.js';

/** A CA the Authority can sign with: its signer view plus what rotation and bundles need. */
export interface CaSlot {
  id: string;
  signing: SigningCa;
  notBeforeMs: number;
  notAfterMs: number;
  rootsPem: string[];
  truncated: boolean;
  warnings: string[];
}

const webcrypto = crypto.webcrypto as unknown as Crypto;

const KEY_PARAMS: Record<KeyType, { gen: EcKeyGenParams | RsaHashedKeyGenParams; sign: Algorithm | EcdsaParams }> = {
  'ec-p256': { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
  'ec-p384': { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams },
  'rsa-2048': {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
  'rsa-3072': {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

/**
 * Generates an intermediate key in this process (non-extractable CryptoKey; the
 * KeyObject view goes to signer threads by in-memory clone), has the upstream sign
 * it, and checks the answer before anything uses it.
 */
export async function mintIntermediate(options: {
  upstream: UpstreamAuthority;
  trustDomain: string;
  keyType: KeyType;
  ttlSeconds: number;
  nowMs: number;
  signal?: AbortSignal;
}): Promise<CaSlot> {
  const params = KEY_PARAMS[options.keyType];
  const keys = (await webcrypto.subtle.generateKey(params.gen, false, ['sign', 'verify'])) as CryptoKeyPair;
  const tdId = trustDomainId(options.trustDomain);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: `O=workload-ca, CN=${options.trustDomain}`,
      keys,
      signingAlgorithm: params.sign,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: tdId }])],
    },
    webcrypto,
  );
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const result = await options.upstream.mintIntermediate(
    {
      csrDer: new Uint8Array(csr.rawData),
      csrPem: csr.toString('pem'),
      trustDomain: options.trustDomain,
      ttlSeconds: options.ttlSeconds,
    },
    options.signal,
  );
  const validated: ValidatedMint = validateMintResult(result, {
    publicKeySpkiDer: spki,
    trustDomain: options.trustDomain,
    requestedNotAfter: new Date(options.nowMs + options.ttlSeconds * 1000),
    now: new Date(options.nowMs),
  });
  const key = crypto.KeyObject.from(keys.privateKey);
  const certDer = pemBlocks(validated.certificatePem)[0]!;
  const profile = leafCaProfile(certDer, key);
  // The authority ID operators type and audit logs carry: hex of the Subject Key Identifier.
  const id = profile.caKeyId.toString('hex');
  return {
    id,
    signing: {
      id,
      key,
      profile: { issuerDer: profile.issuerDer, caKeyId: profile.caKeyId, signatureAlgDer: profile.signatureAlgDer },
      hash: profile.hash,
      chainPemSuffix: validated.chainPem.join(''),
    },
    notBeforeMs: validated.notBefore.getTime(),
    notAfterMs: validated.notAfter.getTime(),
    rootsPem: validated.rootsPem,
    truncated: validated.truncated,
    warnings: validated.warnings,
  };
}

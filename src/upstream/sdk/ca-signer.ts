/**
 * Public SDK: sign an intermediate CA certificate for a CSR, with a key held in
 * memory or anywhere else (an HSM, a KMS) behind a `sign(data)` function.
 *
 * API
 *   type SignatureAlgorithm = 'ES256' | 'ES384' | 'RS256'
 *   interface CaSigner {
 *     algorithm: SignatureAlgorithm;
 *     publicKeySpkiDer: Uint8Array;                  // the signer's public key
 *     sign(data: Uint8Array): Promise<Uint8Array>;   // see below for the format
 *   }
 *   signerFromKeyObject(privateKey: KeyObject): CaSigner
 *   signerFromCryptoKeyPair(keys: CryptoKeyPair): Promise<CaSigner>
 *   signIntermediate({ signer, issuerCertPem, csr, trustDomain, ttlSeconds, now?, backdateSeconds? })
 *     → Promise<{ certificatePem, notBefore, notAfter }>
 *   createSelfSignedRoot({ signer, subject, ttlSeconds, now?, trustDomain? }) → Promise<string> (PEM)
 *   signerAuthority({ name, signer, issuerCertPem, upstreamChainPem, rootsPem, now?, close? })
 *     → UpstreamAuthority whose mints call signIntermediate (for plugins that hold the CA key)
 *
 * `sign` returns the signature the way WebCrypto and PKCS#11 produce it: for
 * ECDSA the fixed-size r||s (IEEE P1363, what CKM_ECDSA returns), for RSA the
 * PKCS#1 v1.5 signature. The SDK DER-encodes ECDSA signatures for X.509, so an
 * HSM signer needs no ASN.1 code. `data` is the full to-be-signed bytes; signers
 * that take a digest (CKM_ECDSA) hash it with the algorithm's hash first.
 *
 * Issued intermediates: CA:TRUE pathlen:0 (critical), keyCertSign+cRLSign
 * (critical), URI SAN spiffe://<td>, SKI/AKI, 16 random bytes of positive
 * serial, notAfter clamped to the issuer's notAfter (validation then reports
 * the truncation), notBefore backdated for clock skew but not before the issuer's.
 */
import { X509Certificate as NodeX509, createHash, createPublicKey, sign as nodeSign, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { WcaError } from '../../errors.js';
import { limits } from '../../limits.js';
import { parseTrustDomain } from '../../spiffe/id.js';
import { randomSerial } from '../../x509/leaf.js';
import type { UpstreamAuthority } from '../types.js';

export type SignatureAlgorithm = 'ES256' | 'ES384' | 'RS256';

export interface CaSigner {
  algorithm: SignatureAlgorithm;
  publicKeySpkiDer: Uint8Array;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

const webParams: Record<SignatureAlgorithm, { import: EcKeyImportParams | RsaHashedImportParams; hash: string }> = {
  ES256: { import: { name: 'ECDSA', namedCurve: 'P-256' }, hash: 'SHA-256' },
  ES384: { import: { name: 'ECDSA', namedCurve: 'P-384' }, hash: 'SHA-384' },
  RS256: { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, hash: 'SHA-256' },
};

const subtle = webcrypto.subtle as unknown as SubtleCrypto;

/** The node hash name for an algorithm ('sha256' / 'sha384'). */
export function hashOf(algorithm: SignatureAlgorithm): 'sha256' | 'sha384' {
  return algorithm === 'ES384' ? 'sha384' : 'sha256';
}

/** Digest of `data` with the algorithm's hash: what a CKM_ECDSA-style signer signs. */
export function digestFor(algorithm: SignatureAlgorithm, data: Uint8Array): Buffer {
  return createHash(hashOf(algorithm)).update(data).digest();
}

/** The algorithm a public key calls for; RSA always signs with SHA-256. */
export function algorithmForPublicKey(spkiDer: Uint8Array): SignatureAlgorithm {
  const key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
  }
  throw new WcaError(
    'ERR_KEY_TYPE_UNSUPPORTED',
    `CA key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''} is not supported (EC P-256, EC P-384 or RSA)`,
  );
}

export function signerFromKeyObject(privateKey: KeyObject): CaSigner {
  const publicKeySpkiDer = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  const algorithm = algorithmForPublicKey(publicKeySpkiDer);
  return {
    algorithm,
    publicKeySpkiDer,
    sign: async (data) => new Uint8Array(nodeSign(hashOf(algorithm), data, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
  };
}

export async function signerFromCryptoKeyPair(keys: CryptoKeyPair): Promise<CaSigner> {
  const publicKeySpkiDer = new Uint8Array(await subtle.exportKey('spki', keys.publicKey));
  const algorithm = algorithmForPublicKey(publicKeySpkiDer);
  const params = { ...webParams[algorithm].import, hash: webParams[algorithm].hash };
  return {
    algorithm,
    publicKeySpkiDer,
    sign: async (data) => new Uint8Array(await subtle.sign(params, keys.privateKey, new Uint8Array(data))),
  };
}

/**
 * A Crypto whose subtle.sign goes to `signer`; everything else is WebCrypto.
 * @peculiar/x509 builds the to-be-signed bytes and formats the signature; this
 * lets it use a key it cannot see.
 */
function cryptoSigningWith(signer: CaSigner): Crypto {
  const base = webcrypto.subtle as unknown as SubtleCrypto;
  const proxied = new Proxy(base, {
    get(target, prop) {
      if (prop === 'sign') {
        return async (_alg: unknown, _key: unknown, data: BufferSource) => {
          const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          const signature = await signer.sign(bytes);
          return signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { subtle: proxied, getRandomValues: webcrypto.getRandomValues.bind(webcrypto) } as unknown as Crypto;
}

/** The signer's public key as a CryptoKey: its `algorithm` tells @peculiar/x509 how to encode. */
async function publicCryptoKey(signer: CaSigner): Promise<CryptoKey> {
  return subtle.importKey('spki', new Uint8Array(signer.publicKeySpkiDer), webParams[signer.algorithm].import, true, ['verify']);
}

async function parseCsr(csr: Uint8Array | string): Promise<x509.Pkcs10CertificateRequest> {
  const size = typeof csr === 'string' ? csr.length : csr.byteLength;
  if (size > limits.csrMaxBytes * 2) throw new WcaError('ERR_CSR_INVALID', `CSR is ${size} bytes, above the limit`);
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(typeof csr === 'string' ? csr : Buffer.from(csr));
  } catch (cause) {
    throw new WcaError('ERR_CSR_INVALID', 'CSR is not a valid PKCS#10 request', { cause });
  }
  let valid = false;
  try {
    valid = await request.verify();
  } catch (cause) {
    throw new WcaError('ERR_CSR_SIGNATURE', 'CSR signature cannot be checked (unsupported key or algorithm)', { cause });
  }
  if (!valid) throw new WcaError('ERR_CSR_SIGNATURE', 'CSR signature does not verify');
  return request;
}

function caExtensionsBase(pathLen: number | undefined): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, pathLen, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

const sanFor = (trustDomain: string) =>
  new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]);

export interface SignIntermediateParams {
  signer: CaSigner;
  /** The signer's own certificate: issuer name, AKI and the notAfter cap come from it. */
  issuerCertPem: string;
  csr: Uint8Array | string;
  trustDomain: string;
  ttlSeconds: number;
  now?: () => number;
  backdateSeconds?: number;
}

export interface SignedIntermediate {
  certificatePem: string;
  notBefore: Date;
  notAfter: Date;
}

export async function signIntermediate(p: SignIntermediateParams): Promise<SignedIntermediate> {
  parseTrustDomain(p.trustDomain);
  if (!Number.isInteger(p.ttlSeconds) || p.ttlSeconds <= 0) {
    throw new WcaError('ERR_TTL_INVALID', `ttlSeconds must be a positive integer, got ${p.ttlSeconds}`);
  }
  const issuer = new x509.X509Certificate(new NodeX509(p.issuerCertPem).raw);
  const csr = await parseCsr(p.csr);
  const now = (p.now ?? Date.now)();
  const notBefore = new Date(Math.max(now - (p.backdateSeconds ?? 30) * 1000, issuer.notBefore.getTime()));
  const notAfter = new Date(Math.min(now + p.ttlSeconds * 1000, issuer.notAfter.getTime()));
  if (notAfter.getTime() <= now) {
    throw new WcaError('ERR_CHAIN_INVALID', `issuer certificate expired at ${issuer.notAfter.toISOString()}`);
  }
  const issuerSki = issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const crypto = cryptoSigningWith(p.signer);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial().toString('hex'),
      subject: csr.subject || `O=SPIFFE, CN=${p.trustDomain}`,
      issuer: issuer.subject,
      notBefore,
      notAfter,
      publicKey: csr.publicKey,
      // Only its `algorithm` is read: the proxied subtle.sign calls the signer.
      signingKey: await publicCryptoKey(p.signer),
      signingAlgorithm: { name: webParams[p.signer.algorithm].import.name, hash: webParams[p.signer.algorithm].hash },
      extensions: [
        ...caExtensionsBase(0),
        sanFor(p.trustDomain),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey, false, crypto),
        issuerSki
          ? new x509.AuthorityKeyIdentifierExtension(issuerSki)
          : await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certificatePem: cert.toString('pem'), notBefore, notAfter };
}

export interface SelfSignedRootParams {
  signer: CaSigner;
  /** Distinguished name, e.g. "CN=workload-ca dev root, O=SPIFFE". */
  subject: string;
  ttlSeconds: number;
  now?: () => number;
  /** Adds the URI SAN spiffe://<td>, as SPIRE's roots carry. */
  trustDomain?: string;
}

export async function createSelfSignedRoot(p: SelfSignedRootParams): Promise<string> {
  if (p.trustDomain !== undefined) parseTrustDomain(p.trustDomain);
  const now = (p.now ?? Date.now)();
  const crypto = cryptoSigningWith(p.signer);
  const publicKey = await publicCryptoKey(p.signer);
  const extensions = [
    ...caExtensionsBase(undefined),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
    ...(p.trustDomain === undefined ? [] : [sanFor(p.trustDomain)]),
  ];
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial().toString('hex'),
      subject: p.subject,
      issuer: p.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + p.ttlSeconds * 1000),
      publicKey,
      signingKey: publicKey,
      signingAlgorithm: { name: webParams[p.signer.algorithm].import.name, hash: webParams[p.signer.algorithm].hash },
      extensions,
    },
    crypto,
  );
  return cert.toString('pem');
}

export interface SignerAuthorityParams {
  name: string;
  signer: CaSigner;
  /**
   * The signer's certificate, or a function giving it for the request's trust
   * domain (for an issuer made on first use, like the dev root).
   */
  issuerCertPem: string | ((trustDomain: string) => Promise<string>);
  /** Certificates between the issuer and the roots, nearest first (the issuer's own when it is not a root). */
  upstreamChainPem: string[];
  /** The roots to publish; asked after each mint and by fetchRoots, so it may re-read a bundle. */
  rootsPem: () => string[] | Promise<string[]>;
  now?: () => number;
  /** Releases what the plugin holds (an HSM session); nothing by default. */
  close?: () => void | Promise<void>;
  /** The contract's checkCredentials (a login the signer holds, e.g. an HSM session); absent by default. */
  checkCredentials?: () => Promise<string>;
}

/** The UpstreamAuthority of a plugin that signs intermediates itself with `signer`. */
export function signerAuthority(p: SignerAuthorityParams): UpstreamAuthority {
  const { name, signer, issuerCertPem, upstreamChainPem, rootsPem, now, close, checkCredentials } = p;
  return {
    name,
    ...(checkCredentials ? { checkCredentials } : {}),
    async mintIntermediate(request) {
      const issuer = typeof issuerCertPem === 'string' ? issuerCertPem : await issuerCertPem(request.trustDomain);
      const signed = await signIntermediate({
        signer,
        issuerCertPem: issuer,
        csr: request.csrDer,
        trustDomain: request.trustDomain,
        ttlSeconds: request.ttlSeconds,
        now,
      });
      return { certificatePem: signed.certificatePem, upstreamChainPem: [...upstreamChainPem], rootsPem: await rootsPem() };
    },
    fetchRoots: async () => rootsPem(),
    async close() {
      await close?.();
    },
  };
}

/**
 * A small working test CA (root plus optional sub-CA levels) that signs
 * intermediate CSRs, and can misbehave on request so validation and core tests
 * see the broken answers real upstreams give. Built directly on @peculiar/x509
 * and WebCrypto, independent of src/upstream/sdk, so it checks our code rather
 * than agreeing with it.
 *
 *   const ca = await createTestRootCa({ subCaLevels: 1 });
 *   const result = await ca.signCaCsr(csrPem, { ttlSeconds: 3600, uriSan: 'spiffe://td' });
 *   const upstream = ca.upstream(); // an UpstreamAuthority for core tests
 */
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { Logger } from 'pino';
import type { MintResult, PluginContext, UpstreamAuthority } from '../../src/upstream/types.js';
import { createLogger, silentLogger } from '../../src/telemetry/logger.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const subtle = webcrypto.subtle as unknown as SubtleCrypto;

export type TestKeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048';

const algorithms: Record<TestKeyType, RsaHashedKeyGenParams | EcKeyGenParams> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams,
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' } as EcKeyGenParams,
  'rsa-2048': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  } as RsaHashedKeyGenParams,
};

export async function generateTestKeys(keyType: TestKeyType = 'ec-p256'): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(algorithms[keyType], true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The private key as PKCS#8 PEM; encrypted (aes-256-cbc) when a passphrase is given. */
export async function privateKeyPem(keys: CryptoKeyPair, passphrase?: string): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return key.export({ type: 'pkcs8', format: 'pem', ...(passphrase === undefined ? {} : { cipher: 'aes-256-cbc', passphrase }) }) as string;
}

const signingAlgorithm = (keys: CryptoKeyPair) =>
  keys.privateKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };

export type Misbehaviour = 'not-a-ca' | 'other-key' | 'wrong-issuer' | 'short-ttl';

export interface SignCaCsrOptions {
  ttlSeconds: number;
  /** URI SAN to put on the intermediate; omitted when undefined. */
  uriSan?: string;
  /** pathLen of the issued intermediate; 0 by default. */
  pathLen?: number;
  misbehave?: Misbehaviour;
  /** Override validity entirely (e.g. an already expired certificate). */
  validity?: { notBefore: Date; notAfter: Date };
}

export interface TestCaOptions {
  keyType?: TestKeyType;
  notBefore?: Date;
  notAfter?: Date;
  /** pathLen on the root (and every sub-CA); unlimited when undefined. */
  pathLen?: number;
  /** Sub-CA levels between the root and the CA that signs CSRs. */
  subCaLevels?: number;
  name?: string;
  now?: () => number;
}

interface Level {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface TestRootCa {
  rootPem: string;
  rootKeys: CryptoKeyPair;
  /** Sub-CAs, the one that signs CSRs first (nearest first, as MintResult wants). */
  chainPem: string[];
  /** Key of the CA that signs CSRs (a sub-CA, or the root when there are none). */
  issuerKeys: CryptoKeyPair;
  issuerPem: string;
  signCaCsr(csrPem: string, options: SignCaCsrOptions): Promise<MintResult>;
  /** An UpstreamAuthority backed by this CA; `calls` counts mints. */
  upstream(options?: Omit<SignCaCsrOptions, 'ttlSeconds' | 'uriSan'>): UpstreamAuthority & { calls: number };
}

/** PEM with a trailing newline, the same text node's X509Certificate#toString() gives. */
const pem = (c: x509.X509Certificate | x509.Pkcs10CertificateRequest) => `${c.toString('pem')}\n`;

const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^./, '1');

async function caExtensions(subjectKey: CryptoKey, issuerKey: CryptoKey, ca: boolean, pathLen?: number) {
  return [
    new x509.BasicConstraintsExtension(ca, ca ? pathLen : undefined, true),
    new x509.KeyUsagesExtension(
      ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(subjectKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuerKey),
  ];
}

async function issueCa(
  issuer: Level | undefined,
  name: string,
  keys: CryptoKeyPair,
  validity: { notBefore: Date; notAfter: Date },
  pathLen?: number,
): Promise<Level> {
  const signer = issuer?.keys ?? keys;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: issuer?.cert.subject ?? name,
    ...validity,
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: signingAlgorithm(signer),
    extensions: await caExtensions(keys.publicKey, signer.publicKey, true, pathLen),
  });
  return { cert, keys };
}

export async function createTestRootCa(options: TestCaOptions = {}): Promise<TestRootCa> {
  const now = options.now ?? Date.now;
  const keyType = options.keyType ?? 'ec-p256';
  const validity = {
    notBefore: options.notBefore ?? new Date(now() - 3600_000),
    notAfter: options.notAfter ?? new Date(now() + 365 * 24 * 3600_000),
  };
  const baseName = options.name ?? 'Test Root CA';
  const root = await issueCa(undefined, `CN=${baseName}, O=workload-ca tests`, await generateTestKeys(keyType), validity, options.pathLen);
  const levels: Level[] = [root];
  for (let i = 1; i <= (options.subCaLevels ?? 0); i++) {
    const sub = await issueCa(levels[0], `CN=${baseName} sub ${i}, O=workload-ca tests`, await generateTestKeys(keyType), validity, options.pathLen);
    levels.unshift(sub);
  }
  const issuer = levels[0]!;
  const rootPem = pem(root.cert);
  const chainPem = levels.slice(0, -1).map((l) => pem(l.cert));

  async function signCaCsr(csrPem: string, o: SignCaCsrOptions): Promise<MintResult> {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    if (!(await csr.verify())) throw new Error('test CA: CSR signature does not verify');
    let signer = issuer;
    const issuerName = issuer.cert.subject;
    if (o.misbehave === 'wrong-issuer') {
      // Same issuer name, unrelated key: only the signature check can catch it.
      signer = { cert: issuer.cert, keys: await generateTestKeys(keyType) };
    }
    const subjectKey = o.misbehave === 'other-key' ? (await generateTestKeys('ec-p256')).publicKey : await csr.publicKey.export();
    const ttl = o.misbehave === 'short-ttl' ? Math.floor(o.ttlSeconds / 2) : o.ttlSeconds;
    const v = o.validity ?? { notBefore: new Date(now() - 30_000), notAfter: new Date(now() + ttl * 1000) };
    const isCa = o.misbehave !== 'not-a-ca';
    const extensions: x509.Extension[] = await caExtensions(subjectKey, signer.keys.publicKey, isCa, o.pathLen ?? 0);
    if (o.uriSan !== undefined) extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'url', value: o.uriSan }]));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: csr.subject || 'O=SPIFFE',
      issuer: issuerName,
      ...v,
      publicKey: subjectKey,
      signingKey: signer.keys.privateKey,
      signingAlgorithm: signingAlgorithm(signer.keys),
      extensions,
    });
    return { certificatePem: pem(cert), upstreamChainPem: [...chainPem], rootsPem: [rootPem] };
  }

  return {
    rootPem,
    rootKeys: root.keys,
    chainPem,
    issuerKeys: issuer.keys,
    issuerPem: pem(issuer.cert),
    signCaCsr,
    upstream(extra = {}) {
      const authority = {
        name: 'test-upstream',
        calls: 0,
        async mintIntermediate(request: { csrPem: string; trustDomain: string; ttlSeconds: number }) {
          authority.calls++;
          return signCaCsr(request.csrPem, { ...extra, ttlSeconds: request.ttlSeconds, uriSan: `spiffe://${request.trustDomain}` });
        },
        async fetchRoots() {
          return [rootPem];
        },
        async close() {},
      };
      return authority;
    },
  };
}

/** A CSR for an intermediate, as the core would make it; returns the key pair too. */
export async function createCaCsr(
  trustDomain: string,
  keyType: TestKeyType = 'ec-p256',
): Promise<{ keys: CryptoKeyPair; csrPem: string; csrDer: Uint8Array; spkiDer: Uint8Array }> {
  const keys = await generateTestKeys(keyType);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `O=SPIFFE, CN=${trustDomain} intermediate`,
    keys,
    signingAlgorithm: signingAlgorithm(keys),
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }])],
  });
  const spkiDer = new Uint8Array(await subtle.exportKey('spki', keys.publicKey));
  return { keys, csrPem: pem(csr), csrDer: new Uint8Array(csr.rawData), spkiDer };
}

/** A PluginContext for plugin tests: silent logger (or a capturing one), real clock, empty env. */
export function testPluginContext(overrides: Partial<PluginContext> = {}): PluginContext {
  return { logger: silentLogger(), now: Date.now, devProfile: true, env: {}, ...overrides };
}

/** The production logger (with its redaction) writing to memory, so tests can assert on (and grep for secrets in) logs. */
export function capturingLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void chunks.push(s) } });
  return {
    logger,
    lines: () => chunks.map((c) => JSON.parse(c) as Record<string, unknown>),
    text: () => chunks.join(''),
  };
}

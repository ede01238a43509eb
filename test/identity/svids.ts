import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { LeafIssuer } from '../../src/ca/types.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

interface Level {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^./, '1');
const keys = () => webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;

async function certificate(subject: string, own: CryptoKeyPair, issuer: Level | undefined, validity: { notBefore: Date; notAfter: Date }, extensions: x509.Extension[]) {
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: issuer?.cert.subject ?? subject,
    ...validity,
    publicKey: own.publicKey,
    signingKey: (issuer?.keys ?? own).privateKey,
    signingAlgorithm: algorithm,
    extensions,
  });
}

const caExtensions = () => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];

/**
 * A small real PKI (root → intermediate → X.509-SVID leaves, ECDSA P-256) signed
 * with @peculiar/x509, for authenticator tests that need odd certificates
 * (expired, foreign roots) the Authority would never issue.
 */
export class TestPki {
  private constructor(
    readonly trustDomain: string,
    private readonly root: Level,
    private readonly intermediate: Level,
  ) {}

  static async create(trustDomain = 'cluster.local', now = Date.now()): Promise<TestPki> {
    const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 30 * 86400_000) };
    const rootKeys = await keys();
    const root = { cert: await certificate(`CN=${trustDomain} test root`, rootKeys, undefined, validity, caExtensions()), keys: rootKeys };
    const intKeys = await keys();
    const intermediate = { cert: await certificate(`CN=${trustDomain} test intermediate`, intKeys, root, validity, caExtensions()), keys: intKeys };
    return new TestPki(trustDomain, root, intermediate);
  }

  /** Leaf + intermediate as DER, the way a TLS client presents its chain. */
  async svid(spiffeId: string, options: { dnsNames?: string[]; notBefore?: Date; notAfter?: Date } = {}): Promise<Uint8Array[]> {
    const names: x509.JsonGeneralName[] = [{ type: 'url', value: spiffeId }, ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value }))];
    const leaf = await certificate(
      'O=SPIFFE',
      await keys(),
      this.intermediate,
      { notBefore: options.notBefore ?? new Date(Date.now() - 60_000), notAfter: options.notAfter ?? new Date(Date.now() + 3600_000) },
      [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectAlternativeNameExtension(names),
      ],
    );
    return [leaf, this.intermediate.cert].map((c) => new Uint8Array(c.rawData));
  }

  intermediatePem(): string {
    return this.intermediate.cert.toString('pem');
  }

  /** Just enough of a LeafIssuer for the mtls authenticator: the trust domain, its bundle and intermediate. */
  issuer(): LeafIssuer {
    const pem = this.root.cert.toString('pem');
    const unused = () => Promise.reject(new Error('TestPki does not issue through LeafIssuer'));
    return {
      trustDomain: this.trustDomain,
      bundle: () => ({ trustDomain: this.trustDomain, pem, version: new X509Certificate(pem).fingerprint256 }),
      intermediatesPem: () => [this.intermediatePem()],
      renewalIntermediatesPem: () => [this.intermediatePem()],
      taintedIntermediatesPem: () => [],
      issue: unused,
      issueForCsr: unused,
      subscribe: () => () => undefined,
    };
  }
}

import { X509Certificate } from 'node:crypto';
import { pemBlocks } from '../x509/der.js';
import { issuedBy } from '../x509/issued-by.js';
import type { LeafIssuer } from '../ca/types.js';
import type { Clock } from '../clock.js';
import { WcaError } from '../errors.js';
import { parseSpiffeId, type SpiffeId } from '../spiffe/id.js';
import type { Authenticator, Caller, CallerContext } from './types.js';

/** More certificates than any chain of ours (leaf, intermediate, maybe root) has. */
const MAX_CHAIN = 8;

/**
 * A caller presenting an unexpired X.509-SVID of our trust domain is that SPIFFE ID
 * (and may renew exactly it). The TLS layer's verdict is not trusted on its own:
 * the chain is checked here against the Authority's *current* bundle, so a root
 * removed by a rotation stops authenticating at once.
 */
export class MtlsAuthenticator implements Authenticator {
  readonly name = 'mtls';
  private roots: { version: string; certs: X509Certificate[] } | undefined;
  private known: { pems: string; certs: X509Certificate[] } | undefined;

  /**
   * `intermediates` lists our own CA certificates (PEM): a TLS stack that hands us
   * only the client's leaf (grpc-js does) still lets us build the chain, and the
   * chain must still end at a bundle root.
   */
  constructor(
    private readonly issuer: LeafIssuer,
    private readonly clock: Clock,
    private readonly intermediates: () => readonly string[] = () => [],
  ) {}

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const ders = context.peerCertificates;
    if (ders === undefined || ders.length === 0) return null;
    if (ders.length > MAX_CHAIN) reject(`client presented ${ders.length} certificates (at most ${MAX_CHAIN})`, 'chain-too-long');
    const [leaf, ...rest] = ders.map(parse);
    const now = this.clock.now();
    const id = leafSpiffeId(leaf!);
    if (id.trustDomain !== this.issuer.trustDomain) {
      reject(`client SVID ${id.uri} belongs to trust domain "${id.trustDomain}", not "${this.issuer.trustDomain}"`, 'foreign-trust-domain');
    }
    if (leaf!.ca) reject(`client certificate for ${id.uri} is a CA certificate, not an SVID`, 'leaf-is-ca');
    this.verifyChain(leaf!, rest, now, id.uri);
    return {
      authenticator: this.name,
      subject: id.uri,
      claims: Object.freeze({ spiffeId: id.uri, dnsNames: sanValues(leaf!, 'DNS'), serial: leaf!.serialNumber }),
      boundSpiffeId: id.uri,
      // The key the TLS handshake proved the caller holds: each instance got its own from us.
      instance: `key:${leaf!.publicKey.export({ type: 'spki', format: 'der' }).toString('base64url')}`,
    };
  }

  private verifyChain(leaf: X509Certificate, presented: X509Certificate[], now: number, uri: string): void {
    checkValidity(leaf, now, `client SVID ${uri}`);
    const roots = this.currentRoots();
    let current = leaf;
    for (const next of presented) {
      if (roots.some((root) => root.fingerprint256 === next.fingerprint256)) break;
      if (!next.ca || !issuedBy(current, next)) {
        reject(`client chain for ${uri} is broken at "${next.subject.replace(/\n/g, ', ')}"`, 'chain-broken');
      }
      checkValidity(next, now, `intermediate "${next.subject.replace(/\n/g, ', ')}"`);
      current = next;
    }
    if (!roots.some((root) => issuedBy(current, root))) {
      const ours = this.knownIntermediates().find((ca) => issuedBy(current, ca));
      if (ours) {
        checkValidity(ours, now, `intermediate "${ours.subject.replace(/\n/g, ', ')}"`);
        current = ours;
      }
    }
    const root = roots.find((candidate) => issuedBy(current, candidate));
    if (!root) reject(`client SVID ${uri} does not chain to a root of our trust bundle`, 'unknown-root');
    checkValidity(root, now, 'trust bundle root');
  }

  private currentRoots(): X509Certificate[] {
    const bundle = this.issuer.bundle();
    if (this.roots?.version !== bundle.version) this.roots = { version: bundle.version, certs: certificatesIn(bundle.pem) };
    return this.roots.certs;
  }

  private knownIntermediates(): X509Certificate[] {
    const pems = this.intermediates().join('');
    if (this.known?.pems !== pems) this.known = { pems, certs: certificatesIn(pems).filter((cert) => cert.ca) };
    return this.known.certs;
  }
}

const certificatesIn = (pems: string) => pemBlocks(pems).map((der) => new X509Certificate(der));

function parse(der: Uint8Array, index: number): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch {
    reject(`client certificate #${index} is not a valid X.509 certificate`, 'unparseable');
  }
}

function checkValidity(cert: X509Certificate, now: number, what: string): void {
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (!(now >= notBefore)) reject(`${what} is not valid before ${new Date(notBefore).toISOString()}`, 'not-yet-valid');
  if (!(now <= notAfter)) reject(`${what} expired at ${new Date(notAfter).toISOString()}`, 'expired');
}

function sanValues(cert: X509Certificate, kind: 'URI' | 'DNS'): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith(`${kind}:`))
    .map((entry) => entry.slice(kind.length + 1));
}

/** X.509-SVID §4.1: exactly one URI SAN, and it is the SPIFFE ID. */
function leafSpiffeId(leaf: X509Certificate): SpiffeId {
  const uris = sanValues(leaf, 'URI');
  if (uris.length !== 1) reject(`client certificate has ${uris.length} URI SANs; an X.509-SVID has exactly one`, 'not-svid');
  try {
    return parseSpiffeId(uris[0]!);
  } catch (err) {
    reject(`client certificate is not an X.509-SVID: ${(err as Error).message}`, 'not-svid');
  }
}

function reject(message: string, reason: string): never {
  throw new WcaError('ERR_UNAUTHENTICATED', message, { details: { reason } });
}

import { X509Certificate } from 'node:crypto';
import { pemBlocks } from '../x509/der.js';
import { issuedBy } from '../x509/issued-by.js';
import type { Clock } from '../clock.js';
import { WcaError, type ReasonOf } from '../errors.js';
import { parseSpiffeId, type SpiffeId } from '../spiffe/id.js';
import { lineageOf, type Lineage } from '../x509/lineage.js';
import type { EvictionList } from './evictions.js';
import type { Authenticator, Caller, CallerContext } from './types.js';

export interface MtlsAuthenticatorOptions {
  trustDomain: string;
  clock: Clock;
  /**
   * PEM chain of each current signing slot (LeafIssuer.intermediatesPem()); the
   * first certificate of each is a workload-ca intermediate of this trust domain.
   */
  intermediates: () => readonly string[];
  /**
   * PEM chains of tainted intermediates (suspected key compromise): a leaf they
   * issued is refused as `authority-tainted` rather than `not-issued-by-us`. Only
   * the reason depends on this list; what is accepted depends on `intermediates` alone.
   */
  tainted?: () => readonly string[];
  /** Identities whose current certificates an operator evicted. */
  evictions?: EvictionList;
  /** A renewal lineage older than this must present its original credential again (identity.mtls.lineageMaxAge). */
  lineageMaxAgeMs?: number;
}

/**
 * A caller presenting an unexpired X.509-SVID that one of our current
 * intermediates signed is that SPIFFE ID (and may renew exactly it).
 *
 * Path validation is OpenSSL's, done in the TLS handshake (RFC 5280 with the TLS
 * client purpose, against the bundle, chains completed through the intermediates
 * of every slot): this only reads its verdict. On top of it, a leaf that some other
 * CA under the upstream root issued (an enterprise sub-CA, the root itself) is
 * refused: renewal is for our own SVIDs. Validity is checked again with our clock,
 * because HTTP/2 connections outlive the certificate they were opened with.
 *
 * Renewal is bounded in time: each SVID carries when its lineage began (the first
 * credential was presented) and which lineage it is, the caller's instance, so all
 * renewals from one first credential share its per-instance limits; past lineageMaxAgeMs, and for lineages current when
 * the identity was evicted, the caller must present its original credential again.
 */
export class MtlsAuthenticator implements Authenticator {
  readonly name = 'mtls';
  private readonly ours = new FirstCas();
  private readonly taintedCas = new FirstCas();

  constructor(private readonly options: MtlsAuthenticatorOptions) {}

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const chain = context.peerChain;
    if (chain === undefined || chain.certificates.length === 0) return null;
    if (chain.verifyError !== null) {
      reject(`client certificate chain refused by RFC 5280 path validation (OpenSSL: ${chain.verifyError})`, 'chain-invalid', { openssl: chain.verifyError });
    }
    const leaf = parse(chain.certificates[0]!);
    const id = leafSpiffeId(leaf);
    const { trustDomain, clock } = this.options;
    if (id.trustDomain !== trustDomain) {
      reject(`client SVID ${id.uri} belongs to trust domain "${id.trustDomain}", not "${trustDomain}"`, 'foreign-trust-domain');
    }
    if (leaf.ca) reject(`client certificate for ${id.uri} is a CA certificate, not an SVID`, 'leaf-is-ca');
    const now = clock.now();
    checkValidity(leaf, now, `client SVID ${id.uri}`);
    if (!this.ours.of(this.options.intermediates()).some((ca) => issuedBy(leaf, ca))) {
      // Streams already open keep being served: the taint re-issues them at once over SDS.
      if (this.taintedCas.of(this.options.tainted?.() ?? []).some((ca) => issuedBy(leaf, ca))) {
        reject(`client SVID ${id.uri} was issued by a tainted workload-ca intermediate (suspected key compromise): it cannot renew; present the original credential (join token, JWT) again`, 'authority-tainted');
      }
      reject(`client SVID ${id.uri} was not issued by a current workload-ca intermediate of ${trustDomain}; renewal is only for our own SVIDs`, 'not-issued-by-us');
    }
    const lineage = lineageOfLeaf(chain.certificates[0]!, leaf);
    const lineageStartMs = lineage.startMs;
    this.options.evictions?.check(id.uri, lineageStartMs);
    const maxAge = this.options.lineageMaxAgeMs;
    if (maxAge !== undefined && now - lineageStartMs >= maxAge) {
      throw new WcaError(
        'ERR_LINEAGE_EXPIRED',
        `the renewal lineage of ${id.uri} began at ${new Date(lineageStartMs).toISOString()}, more than ${maxAge / 1000}s ago: present the original credential (join token, JWT) again`,
        { details: { reason: 'lineage-max-age', lineageStart: new Date(lineageStartMs).toISOString() } },
      );
    }
    return {
      authenticator: this.name,
      subject: id.uri,
      claims: Object.freeze({ spiffeId: id.uri, dnsNames: sanValues(leaf, 'DNS'), serial: leaf.serialNumber }),
      boundSpiffeId: id.uri,
      lineageStartMs,
      ...(lineage.id === undefined ? {} : { lineageId: lineage.id }),
      ...(maxAge === undefined ? {} : { validUntilMs: lineageStartMs + maxAge }),
      // The lineage, not the key: each renewal gets a new key, and counting those as
      // instances let one credential multiply its node identities 16-fold per
      // renewal. A leaf from before lineage ids: the key the handshake proved.
      instance:
        lineage.id === undefined
          ? `key:${leaf.publicKey.export({ type: 'spki', format: 'der' }).toString('base64url')}`
          : `lineage:${lineage.id.toString('base64url')}`,
    };
  }
}

/** The first certificate of each chain, if a CA, parsed again only when the list changes. */
class FirstCas {
  private last: { pems: string; certs: X509Certificate[] } | undefined;

  of(chains: readonly string[]): X509Certificate[] {
    const pems = chains.join('');
    if (this.last?.pems !== pems) {
      const firsts = chains.map((chain) => pemBlocks(chain)[0]).filter((der) => der !== undefined);
      this.last = { pems, certs: firsts.map((der) => new X509Certificate(der)).filter((cert) => cert.ca) };
    }
    return this.last.certs;
  }
}

/** The leaf of a presented chain; ERR_UNAUTHENTICATED (unparseable) when it is not X.509. */
export function parse(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch {
    reject('client certificate is not a valid X.509 certificate', 'unparseable');
  }
}

/** Our leaves carry their lineage; one from before that extension began its lineage when issued. */
function lineageOfLeaf(der: Uint8Array, leaf: X509Certificate): Lineage {
  try {
    return lineageOf(der) ?? { startMs: Date.parse(leaf.validFrom) };
  } catch {
    reject('client certificate has a malformed lineage extension', 'unparseable');
  }
}

export function checkValidity(cert: X509Certificate, now: number, what: string): void {
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
export function leafSpiffeId(leaf: X509Certificate): SpiffeId {
  const uris = sanValues(leaf, 'URI');
  if (uris.length !== 1) reject(`client certificate has ${uris.length} URI SANs; an X.509-SVID has exactly one`, 'not-svid');
  try {
    return parseSpiffeId(uris[0]!);
  } catch (err) {
    reject(`client certificate is not an X.509-SVID: ${(err as Error).message}`, 'not-svid');
  }
}

function reject(message: string, reason: ReasonOf<'ERR_UNAUTHENTICATED'>, extra: Record<string, unknown> = {}): never {
  throw new WcaError('ERR_UNAUTHENTICATED', message, { details: { reason, ...extra } });
}

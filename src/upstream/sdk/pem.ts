/**
 * PEM helpers shared by the core and plugins. Upstreams hand back certificates
 * as single blocks, concatenated bundles or arrays of either; everything here
 * normalises to one PEM string per certificate.
 */
import { X509Certificate } from 'node:crypto';
import { WcaError, type ErrorCode } from '../../errors.js';
import { limits } from '../../limits.js';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every CERTIFICATE block in `text`, in order; other block types are ignored. */
function certificateBlocks(text: string): string[] {
  return text.match(CERT_BLOCK) ?? [];
}

/**
 * Parse each certificate block of `texts`. `what` names the input in errors
 * ("upstream chain", "disk: certFile") so the operator knows where to look.
 *
 * Parsing is synchronous and costs about a millisecond per certificate, so an
 * answer holding thousands would stall the event loop: repeated blocks are
 * parsed once, and more than limits.upstreamCertificatesMax distinct ones are
 * refused before any is parsed.
 */
export function parseCertificates(
  texts: string | readonly string[],
  what: string,
  code: ErrorCode = 'ERR_CERT_PARSE',
): X509Certificate[] {
  const all = (typeof texts === 'string' ? [texts] : texts).flatMap((t) => {
    if (typeof t !== 'string') throw new WcaError(code, `${what}: expected PEM text, got ${typeof t}`);
    return certificateBlocks(t);
  });
  // Keyed without whitespace, so the same certificate wrapped differently counts once.
  const blocks = [...new Map(all.map((b) => [b.replace(/\s+/g, ''), b])).values()];
  if (blocks.length > limits.upstreamCertificatesMax) {
    throw new WcaError(code, `${what}: ${blocks.length} certificates, more than the ${limits.upstreamCertificatesMax} accepted`, {
      details: { count: blocks.length, max: limits.upstreamCertificatesMax },
    });
  }
  return blocks.map((pem, index) => {
    try {
      return new X509Certificate(pem);
    } catch (cause) {
      throw new WcaError(code, `${what}: certificate #${index + 1} is not a valid X.509 certificate`, {
        cause,
        details: { index },
      });
    }
  });
}

/** Canonical PEM of a parsed certificate (one block, trailing newline). */
export function toPem(cert: X509Certificate): string {
  return cert.toString();
}

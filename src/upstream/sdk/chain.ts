/**
 * Upstream APIs (Vault's ca_chain, AWS Private CA's CertificateChain) hand back
 * the issuer's chain with the root at the end. The contract wants the
 * intermediates (nearest first) and the roots apart; self-signed means root.
 */
import type { X509Certificate } from 'node:crypto';
import type { ErrorCode } from '../../errors.js';
import { parseCertificates, toPem } from './pem.js';
import { issuedBy } from '../../x509/issued-by.js';

export interface SplitChain {
  /** Non-self-signed certificates, in the order given (nearest first). */
  chainPem: string[];
  /** Self-signed certificates. */
  rootsPem: string[];
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return issuedBy(cert, cert);
}

/** Splits PEM text(s) into intermediates and roots; duplicates are dropped. */
export function splitChain(texts: string | readonly string[], what: string, code: ErrorCode = 'ERR_UPSTREAM_BAD_RESPONSE'): SplitChain {
  const seen = new Set<string>();
  const out: SplitChain = { chainPem: [], rootsPem: [] };
  for (const cert of parseCertificates(texts, what, code)) {
    if (seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    (isSelfSigned(cert) ? out.rootsPem : out.chainPem).push(toPem(cert));
  }
  return out;
}

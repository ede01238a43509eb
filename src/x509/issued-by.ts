import type { X509Certificate } from 'node:crypto';

/** parent's name and key identifiers match child's issuer, and parent's key verifies child's signature. */
export function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

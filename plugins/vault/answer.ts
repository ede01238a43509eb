/**
 * Reading a sign-intermediate answer as real Vault and OpenBao give it:
 * `ca_chain` starts with the certificate just signed, then the issuer's chain;
 * `warnings` always holds notes we caused ourselves. Pure functions, no I/O.
 */
import type { X509Certificate } from 'node:crypto';
import { parseCertificates, toPem } from '../../src/upstream/sdk/pem.js';
import { oneLine } from './errors.js';

export function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The issuer's chain from an answer's ca_chain: our own certificate removed wherever it appears. */
export function issuerChainOf(ours: X509Certificate, caChain: readonly string[], what: string): X509Certificate[] {
  return parseCertificates(caChain, what, 'ERR_UPSTREAM_BAD_RESPONSE').filter((c) => c.fingerprint256 !== ours.fingerprint256);
}

export const pemOf = (certs: readonly X509Certificate[]): string[] => certs.map(toPem);

/** The earliest notAfter of a chain, in ms: nothing signed under it may outlive this. */
export function chainEndMs(chain: readonly X509Certificate[]): number {
  return Math.min(...chain.map((c) => Date.parse(c.validTo)));
}

/**
 * Warnings every healthy mint gets: the pathLen-0 note answers our own
 * max_path_length=0, and the AIA note is about the mount's URLs, which our
 * chains do not use (they carry the whole path). Anything else is news.
 */
const expectedWarnings = [
  /^Max path length of the signed certificate is zero\b/,
  /hasn't configured any authority information access \(AIA\) fields/,
];

/** Most warnings kept from one answer: the list comes from the network. */
const maxWarnings = 10;

export function classifyWarnings(value: unknown): { expected: string[]; unexpected: string[] } {
  const expected: string[] = [];
  const unexpected: string[] = [];
  for (const warning of stringList(value).slice(0, maxWarnings).map(oneLine)) {
    (expectedWarnings.some((re) => re.test(warning)) ? expected : unexpected).push(warning);
  }
  return { expected, unexpected };
}

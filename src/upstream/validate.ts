/**
 * Every answer an upstream gives is checked here before the core uses it. A
 * rejected answer throws ERR_UPSTREAM_CHAIN naming the certificate and the
 * problem; the caller keeps its current intermediate in service.
 *
 * Decisions (documented in plugins/README.md):
 * - The trust-domain URI SAN (spiffe://<td>) on our intermediate is optional in
 *   the SPIFFE X.509-SVID spec and some upstreams (AWS Private CA's default
 *   templates) drop it: missing gives a warning, a different URI SAN is an error.
 * - Upstreams may return the root inside the chain; it is dropped from the chain.
 * - Clock skew of up to `clockSkewSeconds` is tolerated on notBefore and on the
 *   requested notAfter, so a few seconds' drift is not reported as truncation.
 * - A truncated lifetime is accepted (truncated: true) if at least
 *   `minIntermediateLifetimeSeconds` remain; anything shorter is an error.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { issuedBy } from '../x509/issued-by.js';
import * as x509 from '@peculiar/x509';
import { WcaError } from '../errors.js';
import type { MintResult } from './types.js';
import { parseCertificates, toPem } from './sdk/pem.js';
import { isSelfSigned } from './sdk/chain.js';

export const minIntermediateLifetimeSeconds = 10 * 60;
const clockSkewSeconds = 60;

export interface MintExpectation {
  /** SubjectPublicKeyInfo (DER) of the key we put in the CSR. */
  publicKeySpkiDer: Uint8Array;
  trustDomain: string;
  /** now + requested TTL: what we asked for. */
  requestedNotAfter: Date;
  now: Date;
}

export interface ValidatedMint {
  certificatePem: string;
  /** Ours first, then the upstream intermediates nearest first; never a root. */
  chainPem: string[];
  rootsPem: string[];
  notBefore: Date;
  /** The earliest notAfter along the path: no leaf may outlive it. */
  notAfter: Date;
  truncated: boolean;
  warnings: string[];
}

const fail = (message: string, details?: Record<string, unknown>): never => {
  throw new WcaError('ERR_UPSTREAM_CHAIN', message, { details });
};

interface Parsed {
  node: X509Certificate;
  ext: x509.X509Certificate;
  /** For messages: "certificate (CN=...)" style label. */
  label: string;
}

function parse(node: X509Certificate, role: string): Parsed {
  return { node, ext: new x509.X509Certificate(node.raw), label: `${role} (${node.subject.replace(/\n/g, ', ')})` };
}

function parseAll(texts: string | readonly string[], role: string): Parsed[] {
  return parseCertificates(texts, role, 'ERR_UPSTREAM_CHAIN').map((c, i) => parse(c, `${role}[${i}]`));
}

/** CA:TRUE, keyCertSign, and a path length that allows `below` CA certificates under it. */
function checkCa(c: Parsed, below: number, requireKeyUsage: boolean): void {
  const bc = c.ext.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) fail(`${c.label} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  if (bc?.pathLength !== undefined && bc.pathLength < below) {
    fail(`${c.label} has pathLen ${bc.pathLength} but ${below} CA certificate(s) sit below it`, {
      pathLen: bc.pathLength,
      below,
    });
  }
  const ku = c.ext.getExtension(x509.KeyUsagesExtension);
  if (!ku) {
    if (requireKeyUsage) fail(`${c.label} has no keyUsage extension (keyCertSign required)`);
    return;
  }
  if ((ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) fail(`${c.label} keyUsage lacks keyCertSign`);
}

function checkSignedBy(child: Parsed, issuer: Parsed): boolean {
  return issuedBy(child.node, issuer.node);
}

function checkValidNow(c: Parsed, now: Date): void {
  const skew = clockSkewSeconds * 1000;
  if (c.ext.notBefore.getTime() > now.getTime() + skew) {
    fail(`${c.label} is not valid yet (notBefore ${c.ext.notBefore.toISOString()})`);
  }
  if (c.ext.notAfter.getTime() <= now.getTime()) {
    fail(`${c.label} has expired (notAfter ${c.ext.notAfter.toISOString()})`);
  }
}

function uriSans(c: Parsed): string[] {
  const san = c.ext.getExtension(x509.SubjectAlternativeNameExtension);
  return (san?.names.toJSON() ?? []).filter((n) => n.type === 'url').map((n) => n.value);
}

function spkiOf(der: Uint8Array): Buffer {
  try {
    return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
  } catch (cause) {
    throw new WcaError('ERR_INTERNAL', 'expected public key is not a valid SubjectPublicKeyInfo', { cause });
  }
}

/** Non-empty list of self-signed CA certificates; returns them as canonical PEM. */
export function validateRoots(rootsPem: readonly string[]): string[] {
  return parseRoots(rootsPem).map((r) => toPem(r.node));
}

function parseRoots(rootsPem: readonly string[]): Parsed[] {
  const roots = parseAll(rootsPem, 'root');
  if (roots.length === 0) fail('upstream returned no root certificates');
  for (const r of roots) {
    if (!isSelfSigned(r.node)) fail(`${r.label} is not self-signed`);
    checkCa(r, 0, false);
  }
  return roots;
}

export function validateMintResult(result: MintResult, expect: MintExpectation): ValidatedMint {
  const warnings = [...(result.warnings ?? [])];
  const ours = parseAll(result.certificatePem, 'intermediate');
  if (ours.length !== 1) fail(`upstream returned ${ours.length} certificates where exactly one intermediate was expected`);
  const cert = ours[0]!;
  const roots = parseRoots(result.rootsPem);
  const rootPrints = new Set(roots.map((r) => r.node.fingerprint256));
  // Upstreams that append the root to the chain are common; the bundle carries it.
  const chain = parseAll(result.upstreamChainPem, 'chain').filter((c) => !rootPrints.has(c.node.fingerprint256));

  if (!cert.node.publicKey.export({ format: 'der', type: 'spki' }).equals(spkiOf(expect.publicKeySpkiDer))) {
    fail(`${cert.label} certifies a different public key than the one in our CSR`);
  }

  checkCa(cert, 0, true);
  chain.forEach((c, i) => checkCa(c, i + 1, true));

  const expectedUri = `spiffe://${expect.trustDomain}`;
  const uris = uriSans(cert);
  if (uris.length === 0) {
    warnings.push(`${cert.label} has no URI SAN; expected ${expectedUri}`);
  } else if (uris.some((u) => u !== expectedUri)) {
    fail(`${cert.label} has URI SAN ${uris.join(', ')}; expected only ${expectedUri}`);
  }

  const path = [cert, ...chain];
  for (let i = 0; i + 1 < path.length; i++) {
    if (!checkSignedBy(path[i]!, path[i + 1]!)) fail(`${path[i]!.label} is not signed by ${path[i + 1]!.label}`);
  }
  const top = path[path.length - 1]!;
  const anchor = roots.find((r) => checkSignedBy(top, r));
  if (!anchor) fail(`${top.label} does not chain to any of the ${roots.length} upstream root(s)`);
  checkCa(anchor!, chain.length + 1, false);

  for (const c of [...path, anchor!]) checkValidNow(c, expect.now);

  const notAfter = new Date(Math.min(...[...path, anchor!].map((c) => c.ext.notAfter.getTime())));
  const remainingSeconds = (notAfter.getTime() - expect.now.getTime()) / 1000;
  const truncated = notAfter.getTime() < expect.requestedNotAfter.getTime() - clockSkewSeconds * 1000;
  if (truncated) {
    if (remainingSeconds < minIntermediateLifetimeSeconds) {
      fail(
        `intermediate lifetime cut to ${Math.floor(remainingSeconds)}s (notAfter ${notAfter.toISOString()}), ` +
          `below the minimum of ${minIntermediateLifetimeSeconds}s`,
        { notAfter: notAfter.toISOString(), requestedNotAfter: expect.requestedNotAfter.toISOString() },
      );
    }
    warnings.push(
      `intermediate truncated: valid until ${notAfter.toISOString()}, requested ${expect.requestedNotAfter.toISOString()}`,
    );
  }

  return {
    certificatePem: toPem(cert.node),
    chainPem: path.map((c) => toPem(c.node)),
    rootsPem: roots.map((r) => toPem(r.node)),
    notBefore: cert.ext.notBefore,
    notAfter,
    truncated,
    warnings,
  };
}

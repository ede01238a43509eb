/** Reading files named in a plugin's config: a failure names the field and the path. */
import { readFile } from 'node:fs/promises';
import type { X509Certificate } from 'node:crypto';
import { configError } from './errors.js';
import { isSelfSigned } from './chain.js';
import { parseCertificates, toPem } from './pem.js';

export async function readConfigFile(plugin: string, field: string, filePath: string): Promise<string> {
  try {
    return await readFile(filePath, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'read error';
    throw configError(plugin, [{ path: field, message: `cannot read ${filePath} (${code})` }], cause);
  }
}

/** Every certificate in a PEM file; none at all is a config error. */
export async function readCertificateFile(plugin: string, field: string, filePath: string): Promise<X509Certificate[]> {
  const text = await readConfigFile(plugin, field, filePath);
  const certs = parseCertificates(text, `upstream "${plugin}": ${field} (${filePath})`, 'ERR_UPSTREAM_CONFIG');
  if (certs.length === 0) throw configError(plugin, [{ path: field, message: `${filePath} contains no PEM certificate` }]);
  return certs;
}

/**
 * For a signing CA given as [ca, ...its chain] plus optional bundle roots: the
 * chain to hand back (ca first, roots removed) and the roots. Without a bundle
 * the last certificate must be a self-signed root (`bundleField` is blamed).
 */
export function caChainAndRoots(
  plugin: string,
  certs: readonly X509Certificate[],
  bundle: readonly X509Certificate[] | undefined,
  bundleField: string,
): { chainPem: string[]; rootsPem: string[] } {
  const roots = bundle ?? [certs[certs.length - 1]!];
  if (bundle === undefined && !isSelfSigned(roots[0]!)) {
    throw configError(plugin, [{ path: bundleField, message: 'required: the CA certificate chain does not end in a self-signed root' }]);
  }
  const rootPrints = new Set(roots.map((r) => r.fingerprint256));
  return { chainPem: certs.filter((c) => !rootPrints.has(c.fingerprint256)).map(toPem), rootsPem: roots.map(toPem) };
}

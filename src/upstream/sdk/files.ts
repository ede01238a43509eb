/** Reading files named in a plugin's config: a failure names the field and the path. */
import { open, readFile } from 'node:fs/promises';
import type { X509Certificate } from 'node:crypto';
import type { PluginContext } from '../types.js';
import { configError, isWcaError } from './errors.js';
import { isSelfSigned } from './chain.js';
import { parseCertificates, toPem } from './pem.js';

function readError(plugin: string, field: string, filePath: string, cause: unknown) {
  const code = (cause as NodeJS.ErrnoException).code ?? 'read error';
  return configError(plugin, [{ path: field, message: `cannot read ${filePath} (${code})` }], cause);
}

export async function readConfigFile(plugin: string, field: string, filePath: string): Promise<string> {
  try {
    return await readFile(filePath, 'utf8');
  } catch (cause) {
    throw readError(plugin, field, filePath, cause);
  }
}

const modeOf = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * What a protected file must not allow. Key material may not be readable by
 * group or others. A secret (token, secret ID, JWT, PIN, passphrase) may be
 * readable but not writable by them: Kubernetes mounts Secrets and projected
 * service-account tokens 0644 by default (inside the pod's own filesystem,
 * which only our container sees), so refusing readable ones would refuse every
 * default deployment; a writable one lets another user swap our credential.
 */
const protections = {
  'private-key': { bits: 0o077, problem: 'holds a private key but is open to group or others', fix: 'chmod 600 it' },
  secret: { bits: 0o022, problem: 'holds a secret but is writable by group or others', fix: 'chmod go-w it' },
  /** The config file and plugin modules: whoever can rewrite them runs code or sets trust as us. */
  code: { bits: 0o022, problem: 'is read as config or code but is writable by group or others', fix: 'chmod go-w it', ownedByUs: true },
} as const;

export type FileProtection = keyof typeof protections;

/**
 * Why a file's mode (and, for `code`, its owner: us or root) does not protect it
 * as `kind` needs, or undefined. Takes a stat of the descriptor that is read.
 */
export function protectionProblem(filePath: string, stat: { mode: number; uid: number }, kind: FileProtection): string | undefined {
  const protection = protections[kind];
  if (stat.mode & protection.bits) return `${filePath} ${protection.problem} (mode ${modeOf(stat.mode)}); ${protection.fix}`;
  const euid = process.geteuid?.();
  if ('ownedByUs' in protection && euid !== undefined && stat.uid !== euid && stat.uid !== 0) {
    return `${filePath} is owned by uid ${stat.uid}, neither this process's user (uid ${euid}) nor root; chown it`;
  }
  return undefined;
}

/**
 * A file holding key material or a secret, its mode checked against `kind`.
 * Refused in production (a config error telling how to fix it), a warning in the
 * dev profile. The mode is taken from the descriptor the content is read from,
 * so a file swapped between the check and the read is not read unchecked.
 */
export async function readProtectedFile(
  plugin: string,
  field: string,
  filePath: string,
  kind: FileProtection,
  context: Pick<PluginContext, 'devProfile' | 'logger'>,
): Promise<string> {
  let handle;
  try {
    handle = await open(filePath, 'r');
  } catch (cause) {
    throw readError(plugin, field, filePath, cause);
  }
  try {
    const stat = await handle.stat();
    const problem = protectionProblem(filePath, stat, kind);
    if (problem !== undefined) {
      if (!context.devProfile) throw configError(plugin, [{ path: field, message: problem }]);
      context.logger.warn({ field, path: filePath, mode: modeOf(stat.mode) }, `${problem} (allowed in the dev profile only)`);
    }
    return await handle.readFile('utf8');
  } catch (cause) {
    throw isWcaError(cause) ? cause : readError(plugin, field, filePath, cause);
  } finally {
    await handle.close();
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

/**
 * Loads and cross-checks the CA material named in the config: the key must
 * match the certificate, the certificate must be a CA valid now, and the roots
 * must exist. Every failure is a config error naming the field.
 */
import { createPrivateKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { PluginContext } from '../../src/upstream/types.js';
import { configError, WcaError } from '../../src/upstream/sdk/errors.js';
import { caChainAndRoots, readCertificateFile, readProtectedFile } from '../../src/upstream/sdk/files.js';
import { readSecret } from '../../src/upstream/sdk/secrets.js';
import { toPem } from '../../src/upstream/sdk/pem.js';
import type { DiskConfig } from './config.js';

const PLUGIN = 'disk';

export interface CaMaterial {
  key: KeyObject;
  issuerCertPem: string;
  /** The signing CA and the certificates above it, nearest first, roots excluded. */
  chainPem: string[];
  rootsPem: string[];
}

const problem = (path: string, message: string, cause?: unknown) => configError(PLUGIN, [{ path, message }], cause);

type Context = Pick<PluginContext, 'env' | 'now' | 'devProfile' | 'logger'>;

async function loadKey(config: DiskConfig, context: Context): Promise<KeyObject> {
  const pem = await readProtectedFile(PLUGIN, 'config.keyFile', config.keyFile, 'private-key', context);
  const passphrase = await readSecret(
    PLUGIN,
    { env: config.keyPassphraseEnv, file: config.keyPassphraseFile },
    { env: 'config.keyPassphraseEnv', file: 'config.keyPassphraseFile' },
    context,
  );
  // PKCS#8 "ENCRYPTED PRIVATE KEY" or legacy "Proc-Type: 4,ENCRYPTED".
  const encrypted = pem.includes('ENCRYPTED');
  if (encrypted && passphrase === undefined) {
    throw problem('config.keyFile', `${config.keyFile} is encrypted; set keyPassphraseEnv or keyPassphraseFile`);
  }
  try {
    // An empty passphrase for an unencrypted key keeps OpenSSL from prompting on a TTY.
    return createPrivateKey({ key: pem, format: 'pem', passphrase: passphrase ?? '' });
  } catch (cause) {
    const reason = encrypted ? 'cannot decrypt the key (wrong passphrase?)' : 'is not a PEM private key';
    // The cause (OpenSSL's text) carries no key bytes; the passphrase is never part of it.
    throw problem('config.keyFile', `${config.keyFile}: ${reason}`, cause);
  }
}

/**
 * Whether `key` signs what `publicKey` verifies. Comparing public keys is not
 * enough: a PKCS#8 file carries its public key beside the private one, and a
 * corrupted or edited private part keeps the old public key.
 */
function signsForCertificate(key: KeyObject, publicKey: KeyObject): boolean {
  const probe = randomBytes(32);
  const digest = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
  try {
    return verify(digest, probe, publicKey, sign(digest, probe, key));
  } catch {
    // A key of another type than the certificate's: OpenSSL refuses the pair.
    return false;
  }
}

export async function loadMaterial(config: DiskConfig, context: Context): Promise<CaMaterial> {
  const certs = await readCertificateFile(PLUGIN, 'config.certFile', config.certFile);
  const key = await loadKey(config, context);
  const ca = certs[0]!;

  if (!signsForCertificate(key, ca.publicKey)) {
    throw problem('config.keyFile', `the key in ${config.keyFile} does not match the certificate in ${config.certFile}`);
  }
  if (!ca.ca) throw problem('config.certFile', `${config.certFile}: the first certificate is not a CA (basicConstraints CA:TRUE)`);
  const now = context.now();
  if (Date.parse(ca.validTo) <= now || Date.parse(ca.validFrom) > now) {
    throw new WcaError('ERR_UPSTREAM_CHAIN', `upstream "${PLUGIN}": CA certificate in ${config.certFile} is not valid now (${ca.validFrom} – ${ca.validTo})`);
  }

  const bundle = config.bundleFile === undefined ? undefined : await readCertificateFile(PLUGIN, 'config.bundleFile', config.bundleFile);
  // When the CA is itself the root the chain is empty: the bundle carries it.
  return { key, issuerCertPem: toPem(ca), ...caChainAndRoots(PLUGIN, certs, bundle, 'config.bundleFile') };
}

/** The bundle, re-read so a rotated bundleFile is noticed without a restart. */
export async function loadRoots(config: DiskConfig, material: CaMaterial): Promise<string[]> {
  if (config.bundleFile === undefined) return material.rootsPem;
  return (await readCertificateFile(PLUGIN, 'config.bundleFile', config.bundleFile)).map(toPem);
}

/**
 * pkcs11: the upstream CA key lives in an HSM (anything with a PKCS#11 module;
 * tested against SoftHSM2). The HSM signs our intermediate; the key is never
 * read, and the PIN comes from an environment variable or a file.
 */
import { X509Certificate, verify } from 'node:crypto';
import type { UpstreamAuthority, UpstreamPlugin } from '../../src/upstream/types.js';
import { algorithmForPublicKey, hashOf, signerAuthority } from '../../src/upstream/sdk/ca-signer.js';
import { configError } from '../../src/upstream/sdk/errors.js';
import { caChainAndRoots, readCertificateFile } from '../../src/upstream/sdk/files.js';
import { toPem } from '../../src/upstream/sdk/pem.js';
import { readSecret } from '../../src/upstream/sdk/secrets.js';
import { configSchema, type Pkcs11Config } from './config.js';
import { openSession, type HsmSession } from './client.js';
import { hsmSigner } from './signer.js';

const PLUGIN = 'pkcs11';

/** The CA certificate (first) and any chain after it, from the file or the token. */
async function caCertificates(config: Pkcs11Config, session: HsmSession): Promise<X509Certificate[]> {
  if (config.certFile !== undefined) return readCertificateFile(PLUGIN, 'config.certFile', config.certFile);
  const der = session.findCertificateDer(config.certLabel!);
  if (!der) throw configError(PLUGIN, [{ path: 'config.certLabel', message: `no certificate labelled "${config.certLabel}" on the token` }]);
  return [new X509Certificate(der)];
}

const plugin: UpstreamPlugin<Pkcs11Config> = {
  name: PLUGIN,
  configSchema,
  async create(config, context): Promise<UpstreamAuthority> {
    const pin = await readSecret(PLUGIN, { env: config.pinEnv, file: config.pinFile }, { env: 'config.pinEnv', file: 'config.pinFile' }, context);
    const session = openSession({ module: config.module, tokenLabel: config.tokenLabel, slot: config.slot, pin: pin! });
    try {
      const keyName = [config.keyLabel && `label "${config.keyLabel}"`, config.keyId && `id ${config.keyId}`].filter(Boolean).join(', ');
      const key = session.findPrivateKey({ label: config.keyLabel, id: config.keyId ? Buffer.from(config.keyId, 'hex') : undefined });
      if (!key) throw configError(PLUGIN, [{ path: config.keyLabel ? 'config.keyLabel' : 'config.keyId', message: `no private key with ${keyName} on the token` }]);

      const certs = await caCertificates(config, session);
      const ca = certs[0]!;
      const spki = ca.publicKey.export({ format: 'der', type: 'spki' });
      const signer = hsmSigner(session, key, algorithmForPublicKey(spki), spki);

      // Sign once: a key that does not belong to the certificate fails here, not at the first rotation.
      // A key of another type fails inside the HSM (e.g. CKR_KEY_TYPE_INCONSISTENT): same diagnosis.
      const probeKey = async () => {
        const probe = Buffer.from('workload-ca pkcs11 key check');
        const probeSig = await signer.sign(probe).catch(() => undefined);
        if (!probeSig || !verify(hashOf(signer.algorithm), probe, { key: ca.publicKey, dsaEncoding: 'ieee-p1363' }, probeSig)) {
          throw configError(PLUGIN, [
            { path: config.keyLabel ? 'config.keyLabel' : 'config.keyId', message: `the key with ${keyName} does not match the CA certificate (${config.certFile ?? `token certificate "${config.certLabel}"`})` },
          ]);
        }
      };
      await probeKey();

      const bundle = config.bundleFile === undefined ? undefined : await readCertificateFile(PLUGIN, 'config.bundleFile', config.bundleFile);
      const { chainPem, rootsPem } = caChainAndRoots(PLUGIN, certs, bundle, 'config.bundleFile');
      return signerAuthority({
        name: PLUGIN,
        signer,
        issuerCertPem: toPem(ca),
        upstreamChainPem: chainPem,
        rootsPem: () => rootsPem,
        now: context.now,
        close: () => session.close(),
        // Asked of the HSM now: the session's login state, then a signature by the key that verifies under the CA certificate.
        checkCredentials: async () => {
          const login = session.loginState();
          await probeKey();
          return `${login}; the key with ${keyName} signs for ${ca.subject.replace(/\n/g, ', ')}`;
        },
      });
    } catch (err) {
      session.close();
      throw err;
    }
  },
};

export default plugin;

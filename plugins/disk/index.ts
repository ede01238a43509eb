/**
 * disk: the upstream CA's certificate and key come from files. For labs and
 * air-gapped tests; in production the key belongs in an HSM or a managed CA,
 * so the plugin warns outside the dev profile.
 */
import type { UpstreamAuthority, UpstreamPlugin } from '../../src/upstream/types.js';
import { signerAuthority, signerFromKeyObject } from '../../src/upstream/sdk/ca-signer.js';
import { configSchema, type DiskConfig } from './config.js';
import { loadMaterial, loadRoots } from './material.js';

const plugin: UpstreamPlugin<DiskConfig> = {
  name: 'disk',
  configSchema,
  async create(config, context): Promise<UpstreamAuthority> {
    const material = await loadMaterial(config, context);
    if (!context.devProfile) {
      context.logger.warn(
        { certFile: config.certFile, keyFile: config.keyFile },
        'the CA key is read from a file; use it for labs only, prefer pkcs11, vault or aws-acm-pca in production',
      );
    }
    return signerAuthority({
      name: 'disk',
      signer: signerFromKeyObject(material.key),
      issuerCertPem: material.issuerCertPem,
      upstreamChainPem: material.chainPem,
      rootsPem: () => loadRoots(config, material),
      now: context.now,
    });
  },
};

export default plugin;

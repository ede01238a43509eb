import crypto from 'node:crypto';
import { z } from 'zod';
import type { UpstreamPlugin, UpstreamAuthority } from '../../src/upstream/types.js';
import { signerFromCryptoKeyPair, signerAuthority, createSelfSignedRoot } from '../../src/upstream/sdk/ca-signer.js';

/**
 * The dev root: its key generated in memory when the plugin starts, its
 * certificate made by the first mint (for that mint's trust domain), never
 * written anywhere, gone when the process exits. Every restart is a new trust root.
 */
const configSchema = z
  .object({
    /** Lifetime of the throw-away root, seconds. */
    rootTtlSeconds: z.number().int().positive().default(365 * 86400),
    keyType: z.enum(['ec-p256', 'ec-p384']).default('ec-p256'),
  })
  .strict();

type Config = z.infer<typeof configSchema>;

const curves = { 'ec-p256': 'P-256', 'ec-p384': 'P-384' } as const;

const plugin: UpstreamPlugin<Config> = {
  name: 'self-signed',
  configSchema,
  async create(config, context): Promise<UpstreamAuthority> {
    if (!context.devProfile) {
      context.logger.warn('self-signed upstream outside the dev profile: its root lives only in this process');
    }
    const keys = (await crypto.webcrypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: curves[config.keyType] },
      false,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    const signer = await signerFromCryptoKeyPair(keys);
    // One root, shared by concurrent first mints; a failed attempt (a bad trust domain) is not kept.
    let root: Promise<string> | undefined;
    const makeRoot = (trustDomain: string) =>
      createSelfSignedRoot({ signer, subject: 'CN=workload-ca dev root, O=SPIFFE', ttlSeconds: config.rootTtlSeconds, now: context.now, trustDomain }).catch(
        (err: unknown) => {
          root = undefined;
          throw err;
        },
      );
    return signerAuthority({
      name: 'self-signed',
      signer,
      issuerCertPem: (trustDomain) => (root ??= makeRoot(trustDomain)),
      upstreamChainPem: [],
      rootsPem: async () => (root ? [await root] : []),
      now: context.now,
    });
  },
};

export default plugin;

import crypto from 'node:crypto';
import { z } from 'zod';
import type { UpstreamPlugin, UpstreamAuthority, MintRequest, MintResult } from '../../src/upstream/types.js';
import { signerFromCryptoKeyPair, signIntermediate, createSelfSignedRoot } from '../../src/upstream/sdk/ca-signer.js';

/**
 * The dev root: generated in memory when the plugin starts, never written
 * anywhere, gone when the process exits. Every restart is a new trust root.
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
    let rootPem: string | undefined;
    const root = async (trustDomain: string) =>
      (rootPem ??= await createSelfSignedRoot({
        signer,
        subject: `CN=workload-ca dev root, O=SPIFFE`,
        ttlSeconds: config.rootTtlSeconds,
        now: context.now,
        trustDomain,
      }));
    return {
      name: 'self-signed',
      async mintIntermediate(request: MintRequest): Promise<MintResult> {
        const issuerCertPem = await root(request.trustDomain);
        const signed = await signIntermediate({
          signer,
          issuerCertPem,
          csr: request.csrDer,
          trustDomain: request.trustDomain,
          ttlSeconds: request.ttlSeconds,
          now: context.now,
        });
        return { certificatePem: signed.certificatePem, upstreamChainPem: [], rootsPem: [issuerCertPem] };
      },
      async fetchRoots() {
        return rootPem ? [rootPem] : [];
      },
      async close() {},
    };
  },
};

export default plugin;

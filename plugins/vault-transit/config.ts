/**
 * The vault-transit key manager's configuration (`ca.keyManager` with
 * `type: vault-transit`): where Vault is, how to log in (the vault upstream's
 * auth methods, same schema), which Transit key holds the intermediate key, and
 * how signing requests are batched.
 */
import { z } from 'zod';
import { segment, vaultAuthSchema } from '../vault/config.js';
import { batchSizeMax, callsInFlightMax } from '../../src/keys/batcher.js';

export const vaultTransitConfigSchema = z
  .object({
    type: z.literal('vault-transit').describe('memory | vault-transit.'),
    address: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://vault:8200' }).describe('Vault\'s address, e.g. https://vault.example.com:8200.'),
    namespace: z.string().min(1).optional().describe('Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace.'),
    caFile: z.string().min(1).optional().describe('PEM file with the CA(s) that sign Vault\'s TLS certificate.'),
    mount: segment('mount').default('transit').describe('Mount of the Transit secrets engine.'),
    keyName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,128}$/, 'keyName must be 1-128 letters, digits, "-" or "_"')
      .default('workload-ca')
      .describe('The Transit key; created (ecdsa-p256, not exportable) when missing. One per workload-ca deployment.'),
    auth: vaultAuthSchema,
    requestTimeoutMs: z.number().int().min(100).max(300_000).default(10_000).describe('Deadline of every HTTP call to Vault.'),
    renewAtFraction: z.number().gt(0).lt(1).default(2 / 3).describe('Renew the Vault token when this fraction of its TTL has passed.'),
    batch: z
      .object({
        maxSize: z.number().int().min(1).max(batchSizeMax).default(256).describe('Digests per transit/sign call (batch_input); 1 turns batching off.'),
        maxDelayMs: z.number().int().min(0).max(1000).default(2).describe('How long the first digest of a batch waits for company (0: only what arrives in the same event-loop turn).'),
        maxInFlight: z.number().int().min(1).max(callsInFlightMax).default(4).describe('Concurrent transit/sign calls; further batches wait (and grow).'),
      })
      .strict()
      .prefault({})
      .describe('How signing requests are batched into transit/sign calls.'),
    trim: z.boolean().default(true).describe('Trim key versions whose intermediates (and so all their leaves) have expired.'),
  })
  .strict()
  .transform((c) => ({
    ...c,
    paths: {
      key: `${c.mount}/keys/${c.keyName}`,
      rotate: `${c.mount}/keys/${c.keyName}/rotate`,
      config: `${c.mount}/keys/${c.keyName}/config`,
      trim: `${c.mount}/keys/${c.keyName}/trim`,
      sign: `${c.mount}/sign/${c.keyName}`,
    },
  }));

export type VaultTransitConfigInput = z.input<typeof vaultTransitConfigSchema>;
export type VaultTransitConfig = z.output<typeof vaultTransitConfigSchema>;

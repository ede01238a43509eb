/**
 * `ca.keyManager`: where intermediate keys live. `memory` (default) keeps them
 * in this process; `vault-transit` keeps them in Vault Transit. Each manager's
 * schema lives with its code; this is the union the config file is checked against.
 */
import { z } from 'zod';
import { vaultTransitConfigSchema } from '../../plugins/vault-transit/config.js';

export const keyManagerConfigSchema = z
  .discriminatedUnion('type', [z.object({ type: z.literal('memory') }).strict(), vaultTransitConfigSchema])
  .prefault({ type: 'memory' });

export type KeyManagerConfig = z.output<typeof keyManagerConfigSchema>;

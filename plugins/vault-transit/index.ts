/**
 * vault-transit: the intermediate CA key lives in Vault (or OpenBao) Transit and
 * never in this process. Logs in with the vault upstream's auth code.
 */
import type { KeyManager, KeyManagerContext } from '../../src/keys/types.js';
import { connectVault } from '../vault/session.js';
import { createTransitClient } from './client.js';
import type { VaultTransitConfig } from './config.js';
import { TransitKeyManager } from './key-manager.js';

export async function createTransitKeyManager(config: VaultTransitConfig, context: KeyManagerContext): Promise<KeyManager> {
  const logger = context.logger; // carries keyManager (src/app.ts)
  const { client: vault, auth } = await connectVault(config, {
    plugin: 'vault-transit',
    caFileField: 'ca.keyManager.caFile',
    logger,
    now: () => context.now(),
    schedule: (fn, ms) => context.schedule(fn, ms),
    env: context.env,
  });
  if (config.address.startsWith('http:')) {
    logger.warn('address is plain http; the Vault token travels unencrypted (refused in the production profile)');
  }
  return new TransitKeyManager(config, createTransitClient(vault, config), auth, { ...context, logger });
}

/**
 * vault-transit: the intermediate CA key lives in Vault (or OpenBao) Transit and
 * never in this process. Logs in with the vault upstream's auth code.
 */
import { readConfigFile } from '../../src/upstream/sdk/files.js';
import type { KeyManager, KeyManagerContext } from '../../src/keys/types.js';
import { VaultAuth } from '../vault/auth.js';
import { createVaultClient } from '../vault/client.js';
import { createTransitClient } from './client.js';
import type { VaultTransitConfig } from './config.js';
import { TransitKeyManager } from './key-manager.js';

export async function createTransitKeyManager(config: VaultTransitConfig, context: KeyManagerContext): Promise<KeyManager> {
  const logger = context.logger.child({ keyManager: 'vault-transit' });
  const vault = createVaultClient({
    address: config.address,
    namespace: config.namespace,
    caPem: config.caFile ? await readConfigFile('vault-transit', 'ca.keyManager.caFile', config.caFile) : undefined,
    timeoutMs: config.requestTimeoutMs,
  });
  const auth = new VaultAuth({
    client: vault,
    auth: config.auth,
    renewAtFraction: config.renewAtFraction,
    now: () => context.now(),
    schedule: (fn, ms) => context.schedule(fn, ms),
    logger,
    env: context.env,
  });
  return new TransitKeyManager(config, createTransitClient(vault, config), auth, { ...context, logger });
}

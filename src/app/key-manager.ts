import type { KeyManagerConfig } from '../config/key-manager.js';
import { memoryKeyManager } from '../keys/memory.js';
import type { KeyManager, KeyManagerContext } from '../keys/types.js';

/** Builds the configured key manager; remote ones are imported only when configured. */
export async function createKeyManager(config: KeyManagerConfig, context: KeyManagerContext): Promise<KeyManager> {
  switch (config.type) {
    case 'memory':
      return memoryKeyManager();
    case 'vault-transit': {
      const { createTransitKeyManager } = await import('../../plugins/vault-transit/index.js');
      return createTransitKeyManager(config, context);
    }
  }
}

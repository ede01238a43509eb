/** Builds a vault-transit key manager from config input, the way `serve` does. */
import { vaultTransitConfigSchema, type VaultTransitConfigInput } from '../../../plugins/vault-transit/config.js';
import { createKeyManager } from '../../../src/app/key-manager.js';
import type { KeyManager } from '../../../src/keys/types.js';
import { systemClock, type Clock } from '../../../src/clock.js';
import { silentLogger, type Logger } from '../../../src/telemetry/logger.js';

function transitConfig(address: string, overrides: Partial<VaultTransitConfigInput> = {}) {
  return vaultTransitConfigSchema.parse({
    type: 'vault-transit',
    address,
    keyName: `wca-${Math.random().toString(36).slice(2, 10)}`,
    auth: { method: 'token', token: { env: 'TEST_VAULT_TOKEN' } },
    requestTimeoutMs: 5_000,
    ...overrides,
  });
}

export function transitKeyManager(
  address: string,
  overrides: Partial<VaultTransitConfigInput> = {},
  options: { token: string; clock?: Clock; logger?: Logger; env?: Record<string, string>; intermediateTtlSeconds?: number },
): Promise<KeyManager> {
  const clock = options.clock ?? systemClock;
  return createKeyManager(transitConfig(address, overrides), {
    logger: options.logger ?? silentLogger(),
    now: () => clock.now(),
    schedule: (fn, ms) => clock.schedule(fn, ms),
    env: { TEST_VAULT_TOKEN: options.token, ...options.env },
    intermediateTtlSeconds: options.intermediateTtlSeconds ?? 86_400,
  });
}

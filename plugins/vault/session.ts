/**
 * A logged-in connection to Vault: the HTTP client and the token keeper, built
 * the same way for the PKI upstream and the Transit key manager.
 */
import type { Logger } from 'pino';
import { readConfigFile } from '../../src/upstream/sdk/files.js';
import type { Schedule } from '../../src/upstream/sdk/schedule.js';
import { VaultAuth } from './auth.js';
import { createVaultClient, type VaultClient } from './client.js';
import type { VaultAuthConfig } from './config.js';

export interface VaultConnectionConfig {
  address: string;
  namespace?: string;
  caFile?: string;
  requestTimeoutMs: number;
  renewAtFraction: number;
  auth: VaultAuthConfig;
}

export async function connectVault(
  config: VaultConnectionConfig,
  deps: {
    plugin: string;
    caFileField: string;
    logger: Logger;
    now(): number;
    schedule: Schedule;
    env: Readonly<Record<string, string | undefined>>;
    devProfile?: boolean;
  },
): Promise<{ client: VaultClient; auth: VaultAuth }> {
  const client = createVaultClient({
    address: config.address,
    namespace: config.namespace,
    caPem: config.caFile ? await readConfigFile(deps.plugin, deps.caFileField, config.caFile) : undefined,
    timeoutMs: config.requestTimeoutMs,
  });
  const auth = new VaultAuth({
    client,
    auth: config.auth,
    namespace: config.namespace,
    renewAtFraction: config.renewAtFraction,
    now: deps.now,
    schedule: deps.schedule,
    logger: deps.logger,
    env: deps.env,
    devProfile: deps.devProfile,
  });
  return { client, auth };
}

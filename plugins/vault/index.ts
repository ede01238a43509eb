/**
 * vault: our intermediate is signed by HashiCorp Vault's PKI secrets engine
 * (sign-intermediate), authenticating by token, AppRole or Kubernetes.
 */
import { readConfigFile } from '../../src/upstream/sdk/files.js';
import type { PluginContext, UpstreamPlugin } from '../../src/upstream/types.js';
import { scheduleFrom } from '../../src/upstream/sdk/schedule.js';
import { VaultAuth } from './auth.js';
import { VaultAuthority } from './authority.js';
import { createVaultClient } from './client.js';
import { vaultConfigSchema, type VaultConfig } from './config.js';

const plugin: UpstreamPlugin<VaultConfig> = {
  name: 'vault',
  configSchema: vaultConfigSchema,
  async create(config: VaultConfig, context: PluginContext) {
    const logger = context.logger.child({ upstream: 'vault' });
    const client = createVaultClient({
      address: config.address,
      namespace: config.namespace,
      caPem: config.caFile ? await readConfigFile('vault', 'config.caFile', config.caFile) : undefined,
      timeoutMs: config.requestTimeoutMs,
    });
    const auth = new VaultAuth({
      client,
      auth: config.auth,
      namespace: config.namespace,
      renewAtFraction: config.renewAtFraction,
      now: () => context.now(),
      schedule: scheduleFrom(context),
      logger,
      env: context.env,
    });
    if (config.address.startsWith('http:') && !context.devProfile) {
      logger.warn({ plugin: 'vault' }, 'vault: address is plain http; tokens and certificates travel unencrypted');
    }
    return new VaultAuthority(config, client, auth, logger, () => context.now());
  },
};

export default plugin;

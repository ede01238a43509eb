/**
 * vault: our intermediate is signed by HashiCorp Vault's PKI secrets engine
 * (sign-intermediate), authenticating by token, AppRole or Kubernetes.
 */
import type { PluginContext, UpstreamPlugin } from '../../src/upstream/types.js';
import { scheduleFrom } from '../../src/upstream/sdk/schedule.js';
import { VaultAuthority } from './authority.js';
import { connectVault } from './session.js';
import { vaultConfigSchema, type VaultConfig } from './config.js';

const plugin: UpstreamPlugin<VaultConfig> = {
  name: 'vault',
  configSchema: vaultConfigSchema,
  async create(config: VaultConfig, context: PluginContext) {
    const logger = context.logger;
    const { client, auth } = await connectVault(config, {
      plugin: 'vault',
      caFileField: 'config.caFile',
      logger,
      now: () => context.now(),
      schedule: scheduleFrom(context),
      env: context.env,
      devProfile: context.devProfile,
    });
    // The production profile refuses http at config load; dev allows it for a local server, with this warning.
    if (config.address.startsWith('http:')) {
      logger.warn('address is plain http; tokens and certificates travel unencrypted (refused in the production profile)');
    }
    return new VaultAuthority(config, client, auth, logger, () => context.now());
  },
};

export default plugin;

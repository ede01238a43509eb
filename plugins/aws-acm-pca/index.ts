/**
 * aws-acm-pca: our intermediate is issued by AWS Private CA (IssueCertificate
 * with a subordinate-CA template), credentials and region from the SDK's
 * default chain.
 */
import { scheduleFrom } from '../../src/upstream/sdk/schedule.js';
import type { PluginContext, UpstreamPlugin } from '../../src/upstream/types.js';
import { PcaAuthority } from './authority.js';
import { createPcaClient } from './client.js';
import { pcaConfigSchema, type PcaConfig } from './config.js';

const plugin: UpstreamPlugin<PcaConfig> = {
  name: 'aws-acm-pca',
  configSchema: pcaConfigSchema,
  async create(config: PcaConfig, context: PluginContext) {
    const client = createPcaClient({ region: config.region, endpoint: config.endpoint, requestTimeoutMs: config.requestTimeoutMs });
    return new PcaAuthority(config, {
      client,
      now: () => context.now(),
      schedule: scheduleFrom(context),
      logger: context.logger,
    });
  },
};

export default plugin;

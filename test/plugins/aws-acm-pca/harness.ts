/**
 * Builds the aws-acm-pca plugin the way the loader does against a FakePcaServer.
 * Credentials reach the real SDK through its default chain (environment
 * variables, set here per test file; test/setup/file-scope.ts restores them after it).
 */
import plugin from '../../../plugins/aws-acm-pca/index.js';
import type { PcaConfigInput } from '../../../plugins/aws-acm-pca/config.js';
import type { FakePcaServer } from '../../fakes/acm-pca-server.js';
import { testCredentials } from '../../fakes/acm-pca-server.js';
import { capturingLogger, testPluginContext } from '../../fakes/upstream-ca.js';

export function useCredentials(credentials: { accessKeyId: string; secretAccessKey: string } = testCredentials): void {
  process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
}

export async function createPca(server: FakePcaServer, config: Partial<PcaConfigInput> = {}) {
  const { logger, text } = capturingLogger();
  const parsed = plugin.configSchema.parse({
    certificateAuthorityArn: server.caArn,
    region: server.region,
    endpoint: server.url,
    // Small explicit waits: tests count calls, they do not measure time.
    issue: { initialDelayMs: 1, maxDelayMs: 4 },
    poll: { initialDelayMs: 1, maxDelayMs: 4 },
    ...config,
  });
  const authority = await plugin.create(parsed, testPluginContext({ logger }));
  return { authority, logText: text };
}

/**
 * Builds the vault plugin the way the loader does (schema parse, then create)
 * against a FakeVaultServer, with a capturing logger and an injected clock.
 */
import plugin from '../../../plugins/vault/index.js';
import type { VaultConfigInput } from '../../../plugins/vault/config.js';
import type { UpstreamAuthority } from '../../../src/upstream/types.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { capturingLogger, testPluginContext } from '../../fakes/upstream-ca.js';

export { mintAndValidate, rejectionOf, trustDomain } from './mint.js';

export interface Harness {
  authority: UpstreamAuthority;
  clock: FakeClock;
  /** Everything the plugin logged (through the production logger and its redaction). */
  logText: () => string;
}

export async function createVault(
  config: Omit<VaultConfigInput, 'auth'> & { auth: VaultConfigInput['auth'] },
  env: Record<string, string> = {},
  clock = new FakeClock(Date.now()),
): Promise<Harness> {
  const { logger, text } = capturingLogger();
  const parsed = plugin.configSchema.parse(config);
  const context = testPluginContext({ logger, now: () => clock.now(), schedule: (fn, ms) => clock.schedule(fn, ms), env });
  const authority = await plugin.create(parsed, context);
  return { authority, clock, logText: text };
}


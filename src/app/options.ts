/**
 * The one path from config (and the injected clock, logger, environment) to the
 * options each subsystem takes: `serve`, `upstream check` and the dev Authority
 * all build them here.
 */
import type { AuthorityOptions } from '../ca/authority.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { KeyManagerContext } from '../keys/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { PluginContext } from '../upstream/types.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The Authority's settings that come from config; its collaborators (upstream, keys, clock, logger, metrics, audit) are the caller's. */
export function authoritySettings(config: Pick<Config, 'trustDomain' | 'ca'>) {
  return {
    trustDomain: config.trustDomain,
    keyType: config.ca.keyType,
    intermediateTtlSeconds: config.ca.intermediateTtl,
    defaultLeafTtlSeconds: config.ca.leafTtl,
    maxLeafTtlSeconds: config.ca.leafMaxTtl,
    backdateSeconds: config.ca.backdate,
    signers: config.ca.signers,
    maxQueuedIssuance: config.ca.maxQueuedIssuance,
    maxIssuanceWaitMs: config.ca.maxIssuanceWait * 1000,
  } satisfies Partial<AuthorityOptions>;
}

/** What an upstream plugin is given: the injected clock and environment, and whether the dev profile runs. */
export function pluginContext(deps: { logger: Logger; clock: Clock; profile: Config['profile']; env: Env }): PluginContext {
  const { logger, clock, env } = deps;
  return { logger, now: () => clock.now(), schedule: (fn, ms) => clock.schedule(fn, ms), devProfile: deps.profile === 'dev', env };
}

/** What a key manager is given: the same clock and environment, and the intermediate lifetime its key versions may have certified. */
export function keyManagerContext(
  config: Pick<Config, 'ca'>,
  deps: { logger: Logger; clock: Clock; env: Env; observeSignCall?: KeyManagerContext['observeSignCall'] },
): KeyManagerContext {
  const { logger, clock, env } = deps;
  return {
    logger,
    now: () => clock.now(),
    schedule: (fn, ms) => clock.schedule(fn, ms),
    env,
    intermediateTtlSeconds: config.ca.intermediateTtl,
    ...(deps.observeSignCall ? { observeSignCall: deps.observeSignCall } : {}),
  };
}

import { Authority, type AuthorityOptions } from '../ca/authority.js';
import selfSigned from '../../plugins/self-signed/index.js';
import { configSchema } from '../config/schema.js';
import { authoritySettings, pluginContext } from './options.js';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import type { KeyType } from '../x509/key-types.js';
import type { KeyManager } from '../keys/types.js';

export interface DevAuthorityOptions {
  trustDomain?: string;
  clock?: Clock;
  logger?: Logger;
  metrics?: Metrics;
  keyType?: KeyType;
  intermediateTtlSeconds?: number;
  rootTtlSeconds?: number;
  defaultLeafTtlSeconds?: number;
  maxLeafTtlSeconds?: number;
  backdateSeconds?: number;
  signers?: number;
  maxQueuedIssuance?: number;
  maxIssuanceWaitMs?: number;
  audit?: AuthorityOptions['audit'];
  /** Where the intermediate key lives; in memory by default. */
  keyManager?: KeyManager;
}

/**
 * A ready Authority on a throw-away in-memory root: the dev profile's CA, and the
 * real thing for tests (no fakes between callers and the signing path).
 */
export async function createDevAuthority(options: DevAuthorityOptions = {}): Promise<Authority> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const upstream = await selfSigned.create(
    selfSigned.configSchema.parse({ rootTtlSeconds: options.rootTtlSeconds ?? 365 * 86400 }),
    pluginContext({ logger, clock, profile: 'dev', env: {} }),
  );
  // The same defaults as `npm start`: one schema holds them.
  const defaults = authoritySettings(configSchema.parse({}));
  const authority = new Authority({
    trustDomain: options.trustDomain ?? defaults.trustDomain,
    upstream,
    keyManager: options.keyManager,
    clock,
    logger,
    metrics: options.metrics ?? createMetrics(),
    keyType: options.keyType ?? defaults.keyType,
    intermediateTtlSeconds: options.intermediateTtlSeconds ?? defaults.intermediateTtlSeconds,
    defaultLeafTtlSeconds: options.defaultLeafTtlSeconds ?? defaults.defaultLeafTtlSeconds,
    maxLeafTtlSeconds: options.maxLeafTtlSeconds ?? defaults.maxLeafTtlSeconds,
    backdateSeconds: options.backdateSeconds ?? defaults.backdateSeconds,
    signers: options.signers ?? 2,
    maxQueuedIssuance: options.maxQueuedIssuance ?? defaults.maxQueuedIssuance,
    maxIssuanceWaitMs: options.maxIssuanceWaitMs ?? defaults.maxIssuanceWaitMs,
    audit: options.audit,
  });
  await authority.start();
  return authority;
}

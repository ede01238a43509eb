import { Authority } from './authority.js';
import selfSigned from '../../plugins/self-signed/index.js';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import type { KeyType } from './types.js';

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
    { logger, now: () => clock.now(), schedule: (fn, ms) => clock.schedule(fn, ms), devProfile: true, env: {} },
  );
  const authority = new Authority({
    trustDomain: options.trustDomain ?? 'cluster.local',
    upstream,
    clock,
    logger,
    metrics: options.metrics ?? createMetrics(),
    keyType: options.keyType ?? 'ec-p256',
    intermediateTtlSeconds: options.intermediateTtlSeconds ?? 24 * 3600,
    defaultLeafTtlSeconds: options.defaultLeafTtlSeconds ?? 3600,
    maxLeafTtlSeconds: options.maxLeafTtlSeconds ?? 12 * 3600,
    backdateSeconds: options.backdateSeconds ?? 30,
    signers: options.signers ?? 2,
  });
  await authority.start();
  return authority;
}

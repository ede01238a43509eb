import type * as grpc from '@grpc/grpc-js';
import type { Authority } from '../../src/ca/authority.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { systemClock } from '../../src/clock.js';
import type { ListenAddress } from '../../src/net/listen-address.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { InsecureDevAuthenticator } from '../../src/identity/insecure-dev.js';
import type { Authenticator } from '../../src/identity/types.js';
import { sdsConfigSchema } from '../../src/sds/config.js';
import { startSdsServer, type SdsServer, type SdsServerOptions } from '../../src/sds/server.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { connect } from './envoy-client.js';

export const trustDomain = 'cluster.local';

export interface Harness {
  authority: Authority;
  server: SdsServer;
  metrics: Metrics;
  client(credentials?: grpc.ChannelCredentials, options?: grpc.ChannelOptions): grpc.Client;
  /** Activates a fresh intermediate: every leaf must be re-issued and pushed. */
  rotate(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<Omit<SdsServerOptions, 'config' | 'authenticators'>> {
  config?: Record<string, unknown>;
  authenticators?: (listen: ListenAddress) => Authenticator[];
  authority?: Authority;
}

/** A real SDS server on a real socket, backed by the real in-memory dev CA. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  // Suites here test serving, not load shedding (its own tests set ca.maxIssuanceWait): bursts of first
  // certificates on a busy test machine must not be refused as overload.
  const authority = options.authority ?? (await createDevAuthority({ trustDomain, maxIssuanceWaitMs: 30_000 }));
  const metrics = createMetrics();
  const logger = options.logger ?? silentLogger();
  const listen: ListenAddress = options.listen ?? { kind: 'tcp', host: '127.0.0.1', port: 0 };
  const authenticators = options.authenticators?.(listen) ?? [
    new InsecureDevAuthenticator({ profile: 'dev', trustDomain, listen, logger }),
  ];
  const server = await startSdsServer({
    issuer: authority,
    policy: rulePolicyWithBuiltins(trustDomain, [], 3600),
    profile: 'dev',
    logger,
    metrics,
    clock: systemClock,
    ...options,
    listen,
    authenticators,
    config: sdsConfigSchema.parse(options.config ?? {}),
  });
  const clients: grpc.Client[] = [];
  return {
    authority,
    server,
    metrics,
    client(credentials, channelOptions) {
      const c = connect(server.address, credentials, channelOptions);
      clients.push(c);
      return c;
    },
    async rotate() {
      await authority.prepareNext();
      authority.activateNext('test rotation');
    },
    async close() {
      clients.forEach((c) => c.close());
      await server.close();
      if (!options.authority) await authority.close();
    },
  };
}

export async function counterValue(metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

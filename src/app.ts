import crypto from 'node:crypto';
import type { Config } from './config/schema.js';
import { systemClock, type Clock } from './clock.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { startHttpServer } from './telemetry/http.js';
import { loadUpstream } from './upstream/loader.js';
import { Authority } from './ca/authority.js';
import { createKeyManager } from './app/key-manager.js';
import { Rotator } from './rotation/rotator.js';
import { RootWatcher } from './rotation/root-watcher.js';
import { RootGate } from './rotation/root-gate.js';
import { readiness } from './rotation/health.js';
import { withSigning } from './keys/readiness.js';
import type { KeyType } from './x509/key-types.js';
import { pemBlocks } from './x509/der.js';
import type { Listening } from './net/listen.js';
import { startSdsServer } from './sds/server.js';
import { assembleIdentity } from './app/identity.js';
import { selectAuthenticators } from './config/authenticators.js';
import { startAdminServer } from './admin/server.js';
import { createAuditLog } from './audit/create.js';
import { ConvergenceTracker } from './sds/convergence.js';
import type { AuditLog } from './audit/log.js';
import { ServingState } from './telemetry/serving-state.js';

export interface App {
  authority: Authority;
  audit: AuditLog;
  metrics: Metrics;
  /** Where each server listens (port 0 resolved). */
  addresses: Record<string, string>;
  /** What /readyz and grpc.health.v1 report. */
  serving: ServingState;
  /**
   * The shutdown sequence, one log line per phase: not ready (readiness 503, health
   * NOT_SERVING pushed), SDS stops accepting and ends every stream (GOAWAY, drain up
   * to shutdownTimeout), then the other listeners, signer threads and keys.
   */
  close(): Promise<void>;
}

export interface AppDeps {
  logger?: Logger;
  clock?: Clock;
  env?: Readonly<Record<string, string | undefined>>;
  /** Folder of the config file: relative plugin paths resolve from it. */
  configDir?: string;
}

/** The composition root: builds every subsystem from validated config and starts the listeners. */
export async function startApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const logger = deps.logger ?? createLogger({ level: config.log.level });
  const clock = deps.clock ?? systemClock;
  const metrics = createMetrics({ defaultMetrics: true });
  const devProfile = config.profile === 'dev';
  if (devProfile) logger.warn({ upstream: config.upstream.plugin }, devProfileWarning(config));

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    // Reverse start order; splice so a second close() finds nothing left to close.
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };
  try {
    const audit = createAuditLog(config.audit, { clock, logger });
    closers.push(() => audit.close());
    const upstream = await loadUpstream({ plugin: config.upstream.plugin, config: config.upstream.config }, {
      logger: logger.child({ component: 'upstream' }), // the loader adds `plugin`
      now: () => clock.now(),
      schedule: (fn, ms) => clock.schedule(fn, ms),
      devProfile,
      env: deps.env ?? process.env,
    }, { baseDir: deps.configDir, timeoutMs: config.upstream.timeout * 1000 });
    closers.push(() => upstream.close());

    const keyManager = await createKeyManager(config.ca.keyManager, {
      logger: logger.child({ component: 'keys', keyManager: config.ca.keyManager.type }),
      now: () => clock.now(),
      schedule: (fn, ms) => clock.schedule(fn, ms),
      env: deps.env ?? process.env,
      intermediateTtlSeconds: config.ca.intermediateTtl,
      observeSignCall: (size, outcome) => {
        metrics.keySignCalls.inc({ key_manager: config.ca.keyManager.type, outcome });
        metrics.keySignBatchSize.observe(size);
      },
    });
    closers.push(() => keyManager.close());

    const authority = new Authority({
      trustDomain: config.trustDomain,
      upstream,
      keyManager,
      clock,
      logger: logger.child({ component: 'ca' }),
      metrics,
      keyType: config.ca.keyType as KeyType,
      intermediateTtlSeconds: config.ca.intermediateTtl,
      defaultLeafTtlSeconds: config.ca.leafTtl,
      maxLeafTtlSeconds: config.ca.leafMaxTtl,
      backdateSeconds: config.ca.backdate,
      signers: config.ca.signers,
      audit: audit.log,
    });
    closers.push(() => authority.close());
    await authority.start();

    const convergence = new ConvergenceTracker({
      clock,
      onCount: (authority, state, value) => metrics.subscribers.set({ authority, state }, value),
    });
    const rootGate = new RootGate({
      clock,
      logger: logger.child({ component: 'rotation' }),
      acks: convergence,
      share: config.rotation.rootBundleAckShare,
      graceMs: config.rotation.rootBundleGrace * 1000,
    });
    const rotator = new Rotator(authority, {
      clock,
      logger: logger.child({ component: 'rotation' }),
      mayActivate: () => rootGate.allows(authority.rootsOf('prepared'), authority.rootsOf('active'), authority.bundle()),
      onOutcome: (step, failures) => {
        if (failures > 0) metrics.rotationFailures.inc({ step });
        metrics.rotationConsecutiveFailures.set(failures);
      },
    });
    rotator.start();
    closers.push(async () => rotator.stop());
    const currentReadiness = () => withSigning(readiness(authority.slotLifetimes(), clock.now(), rotator.status()), keyManager.signingProblem?.());
    metrics.probes.rotationOverdue = () => currentReadiness().state === 'degraded';
    const rootWatcher = new RootWatcher(upstream, authority, {
      clock,
      logger: logger.child({ component: 'rotation' }),
      intervalMs: config.upstream.rootPollInterval * 1000,
      onNewRoot: () => metrics.upstreamRootChanges.inc({ plugin: config.upstream.plugin }),
    });
    rootWatcher.start();
    closers.push(async () => rootWatcher.stop());

    const addresses: Record<string, string> = {};
    const track = (name: string, l: Listening) => {
      addresses[name] = l.address;
      serving.attach(name, () => l.accepting());
      closers.push(() => l.close());
    };
    // Named before any starts: a listener not started yet is not ready.
    const serving = new ServingState(currentReadiness, ['http', 'admin', 'sds']);

    track(
      'http',
      await startHttpServer({
        listen: config.listen.http,
        registry: metrics.registry,
        health: serving,
        limits: config.http,
        logger: logger.child({ component: 'http' }),
      }),
    );

    const identity = assembleIdentity(config, { issuer: authority, clock, logger });
    // The SDS server starts after the admin API: eviction reaches it once it exists.
    let sdsServer: { endStreams(spiffeId: string, err: unknown): number } | undefined;
    // config/load.ts guarantees a Unix socket here.
    const admin = await startAdminServer({
      joinTokens: identity.joinTokens,
      identities: {
        trustDomain: config.trustDomain,
        evictions: identity.evictions,
        endStreams: (spiffeId, err) => sdsServer?.endStreams(spiffeId, err) ?? 0,
      },
      logger: logger.child({ component: 'admin' }),
      listen: config.listen.admin as { kind: 'unix'; path: string },
      audit: audit.log,
      authority: { authority, convergence, audit: audit.log, upstream, clock, logger: logger.child({ component: 'admin' }) },
    });
    addresses.admin = `unix:${admin.path}`;
    serving.attach('admin', () => admin.accepting());
    closers.push(() => admin.close());

    const sds = await startSdsServer({
      issuer: authority,
      authenticators: identity.authenticators,
      policy: identity.policy,
      config: config.sds,
      profile: config.profile,
      listen: config.listen.sds,
      logger: logger.child({ component: 'sds' }),
      metrics,
      clock,
      leafTtlSeconds: config.ca.leafTtl,
      socketMode: config.identity.unix?.socketMode,
      audit: audit.log,
      convergence,
      evictions: identity.evictions,
      drainTimeoutMs: config.shutdownTimeout * 1000,
      health: serving,
    });
    sdsServer = sds;
    addresses.sds = sds.address;
    serving.attach('sds', () => sds.accepting());
    // Not a closer: close() below runs it first, after readiness has turned.
    const shutdownLog = logger.child({ component: 'shutdown' });

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        serving.drain();
        shutdownLog.info({ streams: sds.streams() }, 'shutdown: not ready (readiness 503, health NOT_SERVING)');
        const started = performance.now();
        await sds.close();
        shutdownLog.info({ ms: Math.round(performance.now() - started) }, 'shutdown: SDS drained (stopped accepting, every stream ended, connections closed)');
        await closeAll();
        shutdownLog.info('shutdown: listeners closed, signer threads stopped, keys dropped from memory');
      })());
    return { authority, audit: audit.log, metrics, addresses, serving, close };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Says what the dev profile actually runs: which root signs, and whether node.id alone names identities. */
function devProfileWarning(config: Config): string {
  const root =
    config.upstream.plugin === 'self-signed' ? 'throw-away in-memory root' : `upstream "${config.upstream.plugin}" (a persistent root: what it signs is trusted)`;
  const callers = selectAuthenticators(config).names.includes('insecure-dev') ? ', identities taken from node.id' : '';
  return `DEVELOPMENT PROFILE: ${root}, plaintext SDS allowed on loopback${callers}. Do not use for anything but development.`;
}

/** SHA-256 fingerprints of the bundle's roots, as `openssl x509 -fingerprint -sha256` prints them. */
export function bundleFingerprints(bundlePem: string): string[] {
  return pemBlocks(bundlePem).map((der) =>
    crypto
      .createHash('sha256')
      .update(der)
      .digest('hex')
      .toUpperCase()
      .match(/../g)!
      .join(':'),
  );
}

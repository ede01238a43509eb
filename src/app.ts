import crypto from 'node:crypto';
import os from 'node:os';
import type { Config } from './config/schema.js';
import { systemClock, type Clock } from './clock.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { startHttpServer } from './telemetry/http.js';
import { loadUpstream } from './upstream/loader.js';
import { Authority } from './ca/authority.js';
import { createKeyManager } from './app/key-manager.js';
import { authoritySettings, keyManagerContext, pluginContext } from './app/options.js';
import { Rotator } from './rotation/rotator.js';
import { RootWatcher } from './rotation/root-watcher.js';
import { RootGate } from './rotation/root-gate.js';
import { readiness } from './rotation/health.js';
import { degradedBy } from './telemetry/readiness.js';
import { withSigning } from './keys/readiness.js';
import { pemBlocks } from './x509/der.js';
import type { Listening } from './net/listen.js';
import { startSdsServer } from './sds/server.js';
import { assembleIdentity } from './app/identity.js';
import { selectAuthenticators } from './config/authenticators.js';
import { startAdminServer } from './admin/server.js';
import { readAdminTcpConfig } from './admin/tcp-listener.js';
import { createAuditLog } from './audit/create.js';
import { ConvergenceTracker } from './sds/convergence.js';
import type { AuditLog } from './audit/log.js';
import { createStateStore } from './state/create.js';
import type { StateStore } from './state/types.js';
import { Heartbeat } from './state/heartbeat.js';
import { boundedStatus } from './state/heartbeat-status.js';
import { defaultReplicaId } from './state/replica-id.js';
import { MAX_CHAINS_PER_REPLICA, PeerIntermediates } from './state/peers.js';
import { authorityStatus } from './admin/authority-handler.js';
import { FleetActions } from './admin/fleet.js';
import { ServingState } from './telemetry/serving-state.js';

export interface App {
  authority: Authority;
  audit: AuditLog;
  metrics: Metrics;
  /** What replicas share (state.store). */
  state: StateStore;
  /** This replica's name in the shared membership. */
  replicaId: string;
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
  /** This replica's name in the shared state; default the host name and a random suffix. */
  replicaId?: string;
}

/** The composition root: builds every subsystem from validated config and starts the listeners. */
export async function startApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const logger = deps.logger ?? createLogger({ level: config.log.level });
  const clock = deps.clock ?? systemClock;
  const metrics = createMetrics({ defaultMetrics: true });
  if (config.profile === 'dev') logger.warn({ upstream: config.upstream.plugin }, devProfileWarning(config));

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    // Reverse start order; splice so a second close() finds nothing left to close.
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };
  try {
    const audit = createAuditLog(config.audit, { clock, logger });
    closers.push(() => audit.close());
    const env = deps.env ?? process.env;
    const replicaId = deps.replicaId ?? defaultReplicaId(os.hostname(), crypto.randomBytes(3).toString('hex'));
    const state = await createStateStore(config.state, {
      clock,
      logger: logger.child({ component: 'state', store: config.state.store }),
      env,
    });
    closers.push(() => state.close());
    metrics.probes.stateStoreUp = () => state.health().up;
    const upstream = await loadUpstream(
      { plugin: config.upstream.plugin, config: config.upstream.config },
      pluginContext({ logger: logger.child({ component: 'upstream' }), clock, profile: config.profile, env }), // the loader adds `plugin`
      { baseDir: deps.configDir, timeoutMs: config.upstream.timeout * 1000 },
    );
    closers.push(() => upstream.close());

    const keyManager = await createKeyManager(
      config.ca.keyManager,
      keyManagerContext(config, {
        logger: logger.child({ component: 'keys', keyManager: config.ca.keyManager.type }),
        clock,
        env,
        observeSignCall: (size, outcome) => {
          metrics.keySignCalls.inc({ key_manager: config.ca.keyManager.type, outcome });
          metrics.keySignBatchSize.observe(size);
        },
      }),
    );
    closers.push(() => keyManager.close());

    const authority = new Authority({
      ...authoritySettings(config),
      upstream,
      keyManager,
      clock,
      logger: logger.child({ component: 'ca' }),
      metrics,
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
    // Set once the heartbeat exists; /readyz is served before that.
    let heartbeatProblem: () => string | undefined = () => undefined;
    const currentReadiness = () => {
      const store = state.health();
      return degradedBy(
        degradedBy(
          withSigning(readiness(authority.slotLifetimes(), clock.now(), rotator.status()), keyManager.signingProblem?.()),
          store.up ? undefined : `shared state store unreachable, join tokens refused until it is back: ${store.problem}`,
        ),
        heartbeatProblem(),
      );
    };
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

    const stateIntervalMs = (config.state.postgres?.heartbeatInterval ?? 10) * 1000;
    const peers = new PeerIntermediates({ membership: state.replicas, selfId: replicaId, clock, intervalMs: stateIntervalMs, logger: logger.child({ component: 'state' }) });
    peers.start();
    closers.push(async () => peers.stop());
    const identity = assembleIdentity(config, {
      issuer: authority,
      clock,
      logger,
      joinTokenRecords: state.joinTokens,
      peers,
    });
    // The SDS server starts after the admin API: eviction reaches it once it exists.
    let sdsServer: { endStreams(spiffeId: string, err: unknown): number } | undefined;
    const adminAuthority = {
      authority,
      convergence,
      rootBundleAckShare: config.rotation.rootBundleAckShare,
      audit: audit.log,
      upstream,
      clock,
      logger: logger.child({ component: 'admin' }),
    };
    const heartbeat = new Heartbeat({
      replicaId,
      membership: state.replicas,
      // The fleet view: what `authority show` says, without per-node lists (bounded size).
      status: () => {
        const { authorities, ...summary } = authorityStatus(adminAuthority);
        // Public certificates only: other replicas accept renewals of the SVIDs these signed, and refuse
        // those of tainted ones with the reason (never trusting them: a taint is a suspected key compromise).
        return boundedStatus({
          summary,
          authorities: authorities.map(({ nacked_nodes: _nacked, ...a }) => a),
          intermediates: authority.renewalIntermediatesPem().slice(0, MAX_CHAINS_PER_REPLICA),
          taintedIntermediates: authority.taintedIntermediatesPem().slice(0, MAX_CHAINS_PER_REPLICA),
        });
      },
      intervalMs: stateIntervalMs,
      clock,
      logger: logger.child({ component: 'state' }),
      onFailure: () => metrics.heartbeatFailures.inc(),
    });
    heartbeatProblem = () => heartbeat.problem();
    heartbeat.start();
    closers.push(async () => heartbeat.stop());
    // One process has no one to tell: the memory store keeps the single replica as it was.
    const fleet = state.kind === 'postgres' ? new FleetActions({ store: state, replicaId, authority: adminAuthority }) : undefined;
    fleet?.start();
    if (fleet) closers.push(async () => fleet.stop());
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
      authority: adminAuthority,
      ...(fleet ? { fleet } : {}),
      replicaId,
      ...(config.admin.tcp ? { tcp: await readAdminTcpConfig(config.admin.tcp) } : {}),
    });
    addresses.admin = `unix:${admin.path}`;
    if (admin.tcpAddress) addresses.adminTcp = admin.tcpAddress;
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
    serving.attach('sds', () => sds.accepting(), () => sds.saturation());
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
    return { authority, audit: audit.log, metrics, state, replicaId, addresses, serving, close };
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

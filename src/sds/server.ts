import v8 from 'node:v8';
import * as grpc from '@grpc/grpc-js';
import type { LeafIssuer } from '../ca/types.js';
import type { Clock } from '../clock.js';
import type { ListenAddress } from '../net/listen-address.js';
import { grpcStatusOf, publicMessageOf, WcaError } from '../errors.js';
import { AuthenticatorChain } from '../identity/chain.js';
import type { Authenticator, Policy } from '../identity/types.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import { grpcCodeName, type Metrics } from '../telemetry/metrics.js';
import { keepaliveOf, keepaliveServerOptions } from '../transport/keepalive.js';
import { resolveSdsTransport, type ResolvedTransport } from '../transport/sds-transport.js';
import type { TlsListener } from '../transport/tls-listener.js';
import type { SocketMode } from '../net/unix-socket.js';
import { addressGroup } from '../net/address-group.js';
import { StreamAdmission } from './admission.js';
import { watchLoopDelay } from './loop-delay.js';
import { countShed } from './shed.js';
import { SecretCache } from './cache.js';
import type { SdsConfig, SdsTransport } from './config.js';
import { DeltaProtocol } from './delta.js';
import { fetchSecretsHandler, type Endable } from './fetch.js';
import { IdentityStreams, type EvictionCheck } from './identity-streams.js';
import { listenSds, type SdsListener } from './listener.js';
import { MalformedRequest } from './messages.js';
import { sdsProtos } from './protos.js';
import { sdsServiceDefinition } from './service.js';
import { healthHandlers, healthServiceDefinition, type HealthStatusSource } from './health.js';
import { callerContextOf, ServedStream, type PeerChainOf, type StreamRegistry } from './grpc-stream.js';
import type { ProtocolFactory, SessionDeps } from './session.js';
import { DecisionLog } from './decision-log.js';
import { SotwProtocol } from './sotw.js';
import { createSourceFactory } from './source.js';
import type { DeltaRequest, DeltaResponse, SotwRequest, SotwResponse } from './types.js';
import type { Auditor } from '../audit/log.js';
import type { ConvergenceTracker } from './convergence.js';

export interface SdsServerOptions {
  issuer: LeafIssuer;
  authenticators: readonly Authenticator[];
  policy: Policy;
  config: SdsConfig;
  profile: 'dev' | 'production';
  listen: ListenAddress;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Overrides config.transport (e.g. from a CLI flag). */
  transport?: SdsTransport;
  /** Cap on leaf lifetime below each grant's maximum (config ca.leafTtl). */
  leafTtlSeconds?: number;
  /** File mode of a Unix socket listener (identity.unix.socketMode). */
  socketMode?: SocketMode;
  /** The SVID the TLS listener presents; default spiffe://<td>/workload-ca/sds. */
  serverSpiffeId?: string;
  /** Audit log for denials and join-token uses. */
  audit?: Auditor;
  /** Learns from ACKs which authority and bundle each stream holds. */
  convergence?: ConvergenceTracker;
  /** Evicted identities, re-checked as each stream starts. */
  evictions?: EvictionCheck;
  /** close(): how long connections get to close once every stream got its status, before they are cut (config shutdownTimeout). */
  drainTimeoutMs?: number;
  /** Serves grpc.health.v1.Health on this listener with this status (no authentication: probes send no credential). */
  health?: HealthStatusSource;
}

export interface SdsServer {
  /** Where it listens, with the real port ("127.0.0.1:40123" or "unix:/path"). */
  readonly address: string;
  readonly transport: ResolvedTransport;
  readonly cache: SecretCache;
  /** Open streams, authenticated or not. */
  streams(): number;
  /** True while the listener accepts connections (readiness). */
  accepting(): boolean;
  /** Why accepting() is not the whole story: "connection cap saturated: 40/40" while a TLS listener refuses new connections at its cap. */
  saturation(): string | undefined;
  /** Ends every open stream of a SPIFFE ID with the error's status and drops its cached keys (eviction); returns how many streams. */
  endStreams(spiffeId: string, err: unknown): number;
  /**
   * Stops accepting connections, ends every stream, health call and in-flight fetch
   * with UNAVAILABLE, sends GOAWAY, lets connections close (at most drainTimeoutMs),
   * then cuts the rest.
   */
  close(): Promise<void>;
}

/** grpc-js options of the SDS server; exported so the benchmark's baseline server runs with the same. */
export const sdsGrpcServerOptions: grpc.ServerOptions = Object.freeze({
  'grpc.max_receive_message_length': limits.sdsMaxReceiveMessageBytes,
  // No channelz service is exposed, so its per-call bookkeeping would be pure cost.
  'grpc.enable_channelz': 0,
});

const defaultDrainTimeoutMs = 10_000;

/** Ends a stream before it is served, with the error's status. */
function refuseStream(call: grpc.ServerDuplexStream<unknown, unknown>, metrics: Metrics, err: unknown): void {
  metrics.sdsRejected.inc({ code: grpcCodeName(grpcStatusOf(err)) });
  countShed(metrics, err);
  call.emit('error', { code: grpcStatusOf(err), details: publicMessageOf(err) });
}

/** Starts the SDS gRPC server; resolves once it accepts connections. */
export async function startSdsServer(options: SdsServerOptions): Promise<SdsServer> {
  const { issuer, config, logger, metrics, clock, listen } = options;
  const transport = resolveSdsTransport(options.transport ?? config.transport, options.profile, listen);
  // Parse the protos now (~100 ms), not while the first callers wait.
  sdsProtos();
  const cache = new SecretCache({
    issuer,
    clock,
    logger,
    issueConcurrency: config.issueConcurrency,
    idleMs: config.idleTimeout * 1000,
    ...(config.maxIdentities ? { maxIdentities: config.maxIdentities } : {}),
  });
  logger.info(
    { maxIdentities: cache.maxIdentities, configured: config.maxIdentities !== undefined, heapLimitBytes: v8.getHeapStatistics().heap_size_limit },
    'sds: node identity cap',
  );
  const sources = createSourceFactory({
    cache,
    trustDomain: issuer.trustDomain,
    certificateName: config.certificateName,
    bundleName: config.bundleName,
    spiffeValidator: config.spiffeValidator,
    ...(options.leafTtlSeconds ? { leafTtlSeconds: options.leafTtlSeconds } : {}),
  });
  const chain = new AuthenticatorChain(options.authenticators, metrics);
  const wildcardNames = [config.certificateName, config.bundleName];
  const identities = new IdentityStreams(clock, options.evictions, config.maxStreamsPerInstance);
  const deps: SessionDeps = {
    identities,
    chain,
    policy: options.policy,
    decisions: new DecisionLog(clock),
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.convergence ? { convergence: options.convergence } : {}),
    logger,
    metrics,
    sources,
    resourceLabel: (name) => (name === config.certificateName || name === config.bundleName ? name : 'other'),
    clock,
    firstRequestTimeoutMs: config.firstRequestTimeout * 1000,
  };
  const loopDelay = config.maxEventLoopDelay === undefined ? undefined : watchLoopDelay(config.maxEventLoopDelay * 1000);
  const admission = new StreamAdmission({
    streamsMax: config.maxStreams,
    streamsPerAddress: config.maxStreamsPerAddress,
    pendingMax: config.maxPendingStreams,
    ...(loopDelay ? { overloaded: () => loopDelay.overloaded() } : {}),
  });
  // Whatever close() must end with a status: open streams, and in-flight FetchSecrets calls.
  const open = new Set<Endable>();
  const fetches = new Set<Endable>();
  let stopping = false;
  const shuttingDown = () => new WcaError('ERR_SDS_SHUTTING_DOWN', 'the SDS server is shutting down; reconnect');
  // Label children bound once: a labelled inc() hashes its labels on every call.
  const registries: Record<'sotw' | 'delta', StreamRegistry> = {
    sotw: { open, admission, gauge: metrics.sdsStreams.labels({ kind: 'sotw' }), responses: metrics.sdsResponses.labels({ kind: 'sotw' }) },
    delta: { open, admission, gauge: metrics.sdsStreams.labels({ kind: 'delta' }), responses: metrics.sdsResponses.labels({ kind: 'delta' }) },
  };

  let tlsListener: TlsListener | undefined;
  // Only a listener that asks for client certificates can have any to look up.
  const peerChainOf: PeerChainOf | undefined = transport === 'mtls' ? (peer) => tlsListener!.peerChain(peer) : undefined;
  const describeCaller = (call: grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerUnaryCall<unknown, unknown>) =>
    callerContextOf(call, transport, listen, peerChainOf);

  function serveStream<Req extends SotwRequest | DeltaRequest, Res extends SotwResponse | DeltaResponse>(
    kind: 'sotw' | 'delta',
    call: grpc.ServerDuplexStream<Req | MalformedRequest, Res>,
    makeProtocol: ProtocolFactory<Req, Res>,
  ): void {
    if (stopping) return refuseStream(call, metrics, shuttingDown());
    let context;
    let admittedAs;
    try {
      context = describeCaller(call);
      // Per address (IPv6: per /64), not per connection: connections are cheap to open.
      // The server-wide limit counts the stream only once it authenticates
      // (ServedStream.authenticated); until then the pending limit does.
      admittedAs = addressGroup(context.peerAddress);
      admission.open(admittedAs);
    } catch (err) {
      return refuseStream(call, metrics, err);
    }
    // It registers itself in `open` and lives as long as the call.
    new ServedStream(call, context, admittedAs, registries[kind], deps, makeProtocol);
  }

  const handlers: grpc.UntypedServiceImplementation = {
    StreamSecrets: (call: grpc.ServerDuplexStream<SotwRequest | MalformedRequest, SotwResponse>) =>
      serveStream('sotw', call, (ports) => new SotwProtocol(ports, wildcardNames)),
    DeltaSecrets: (call: grpc.ServerDuplexStream<DeltaRequest | MalformedRequest, DeltaResponse>) =>
      serveStream('delta', call, (ports) => new DeltaProtocol(ports)),
    FetchSecrets: fetchSecretsHandler({
      fetch: { ...deps, wildcardNames, timeoutMs: config.fetchTimeout * 1000 },
      metrics,
      inFlight: fetches,
      refusal: () => (stopping ? shuttingDown() : undefined),
      describeCaller,
    }),
  };

  // A connection without a stream holds a descriptor for nothing: grpc-js closes it after idleTimeout.
  const server = new grpc.Server({
    ...sdsGrpcServerOptions,
    'grpc.max_concurrent_streams': config.maxStreamsPerConnection,
    'grpc.max_connection_idle_ms': config.connections.idleTimeout * 1000,
    // The TLS listener closes connections quiet for longer than a PING and its timeout (transport/keepalive.ts).
    ...keepaliveServerOptions(keepaliveOf(config.connections)),
  });
  server.addService(sdsServiceDefinition, handlers);
  const health = options.health ? healthHandlers(options.health, { firstRequestTimeoutMs: config.firstRequestTimeout * 1000 }) : undefined;
  if (health) server.addService(healthServiceDefinition, health.handlers);

  let listener: SdsListener;
  try {
    listener = await listenSds(server, {
      listen,
      transport,
      issuer,
      cache,
      config,
      socketMode: options.socketMode ?? '0600',
      ...(options.leafTtlSeconds ? { leafTtlSeconds: options.leafTtlSeconds } : {}),
      logger,
    });
  } catch (err) {
    server.forceShutdown();
    cache.close();
    loopDelay?.close();
    throw err;
  }
  tlsListener = listener.tls;
  metrics.probes.sdsConnections = () => listener.connections();
  const address = listener.address;
  logger.info({ address, transport }, 'sds: listening');

  return {
    address,
    transport,
    cache,
    streams: () => open.size,
    accepting: () => !stopping && listener.accepting(),
    saturation() {
      const connections = listener.connections();
      return connections && connections.open >= connections.max ? `connection cap saturated: ${connections.open}/${connections.max}` : undefined;
    },
    endStreams(spiffeId, err) {
      const ended = identities.end(spiffeId, err);
      cache.forget(spiffeId);
      return ended;
    },
    async close() {
      stopping = true;
      listener.stopAccepting();
      const status = shuttingDown();
      for (const endable of [...open, ...fetches]) endable.fail(status.grpcStatus, status.message);
      health?.calls.endAll(status.grpcStatus, status.message);
      // GOAWAY on every connection; each closes once the peer has closed its side of every
      // stream, which a gRPC client does on reading the status. One that never does is cut
      // after drainTimeoutMs: grpc-js never resets a stream it has sent a status on.
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(resolve, options.drainTimeoutMs ?? defaultDrainTimeoutMs);
        server.tryShutdown(() => {
          clearTimeout(deadline);
          resolve();
        });
      });
      await listener.close();
      server.forceShutdown();
      cache.close();
      loopDelay?.close();
    },
  };
}

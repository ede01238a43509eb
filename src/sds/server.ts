import * as grpc from '@grpc/grpc-js';
import type { LeafIssuer } from '../ca/types.js';
import type { Clock } from '../clock.js';
import { formatListenAddress, type ListenAddress } from '../config/listen.js';
import { grpcStatusOf, publicMessageOf, WcaError } from '../errors.js';
import { AuthenticatorChain } from '../identity/chain.js';
import type { Authenticator, Policy } from '../identity/types.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { resolveSdsTransport, type ResolvedTransport } from '../transport/sds-transport.js';
import { listenTls, type TlsListener } from '../transport/tls-listener.js';
import { bindUnixSocket, type SocketMode } from '../net/unix-socket.js';
import { bindGrpc } from '../net/grpc-bind.js';
import { SecretCache } from './cache.js';
import type { SdsConfig, SdsTransport } from './config.js';
import { DeltaProtocol } from './delta.js';
import { fetchSecrets } from './fetch.js';
import { MalformedRequest } from './messages.js';
import { sdsProtos } from './protos.js';
import { sdsServiceDefinition } from './service.js';
import { callerContextOf, ServedStream, type PeerCertificates, type StreamRegistry } from './grpc-stream.js';
import type { ProtocolFactory, SessionDeps } from './session.js';
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
}

export interface SdsServer {
  /** Where it listens, with the real port ("127.0.0.1:40123" or "unix:/path"). */
  readonly address: string;
  readonly transport: ResolvedTransport;
  readonly cache: SecretCache;
  streams(): number;
  close(): Promise<void>;
}

/** grpc-js options of the SDS server; exported so the benchmark's baseline server runs with the same. */
export const sdsGrpcServerOptions: grpc.ServerOptions = Object.freeze({
  'grpc.max_receive_message_length': limits.sdsMaxReceiveMessageBytes,
  // No channelz service is exposed, so its per-call bookkeeping would be pure cost.
  'grpc.enable_channelz': 0,
});

/** Ends a stream before it is served, with the error's status. */
function refuseStream(call: grpc.ServerDuplexStream<unknown, unknown>, metrics: Metrics, err: unknown): void {
  metrics.sdsRejected.inc({ status: String(grpcStatusOf(err)) });
  call.emit('error', { code: grpcStatusOf(err), details: publicMessageOf(err) });
}

/** Starts the SDS gRPC server; resolves once it accepts connections. */
export async function startSdsServer(options: SdsServerOptions): Promise<SdsServer> {
  const { issuer, config, logger, metrics, clock, listen } = options;
  const transport = resolveSdsTransport(options.transport ?? config.transport, options.profile, listen);
  // Parse the protos now (~100 ms), not while the first callers wait.
  sdsProtos();
  const cache = new SecretCache({ issuer, clock, logger, issueConcurrency: config.issueConcurrency, idleMs: config.idleTimeout * 1000 });
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
  const deps: SessionDeps = {
    chain,
    policy: options.policy,
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.convergence ? { convergence: options.convergence } : {}),
    logger,
    metrics,
    sources,
    resourceLabel: (name) => (name === config.certificateName || name === config.bundleName ? name : 'other'),
  };
  const open = new Set<{ finish(): void }>();
  // Label children bound once: a labelled inc() hashes its labels on every call.
  const registries: Record<'sotw' | 'delta', StreamRegistry> = {
    sotw: { open, gauge: metrics.sdsStreams.labels({ kind: 'sotw' }), responses: metrics.sdsResponses.labels({ kind: 'sotw' }) },
    delta: { open, gauge: metrics.sdsStreams.labels({ kind: 'delta' }), responses: metrics.sdsResponses.labels({ kind: 'delta' }) },
  };

  let tlsListener: TlsListener | undefined;
  // Only a listener that asks for client certificates can have any to look up.
  const peerCertificatesOf: PeerCertificates | undefined = transport === 'mtls' ? (peer) => tlsListener!.peerCertificates(peer) : undefined;
  const describeCaller = (call: grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerUnaryCall<unknown, unknown>) =>
    callerContextOf(call, transport, listen, peerCertificatesOf);

  function serveStream<Req extends SotwRequest | DeltaRequest, Res extends SotwResponse | DeltaResponse>(
    kind: 'sotw' | 'delta',
    call: grpc.ServerDuplexStream<Req | MalformedRequest, Res>,
    makeProtocol: ProtocolFactory<Req, Res>,
  ): void {
    if (open.size >= limits.sdsStreamsMax) {
      return refuseStream(call, metrics, new WcaError('ERR_SDS_LIMIT', `more than ${limits.sdsStreamsMax} SDS streams`));
    }
    let context;
    try {
      context = describeCaller(call);
    } catch (err) {
      return refuseStream(call, metrics, err);
    }
    // It registers itself in `open` and lives as long as the call.
    new ServedStream(call, context, registries[kind], deps, makeProtocol);
  }

  const handlers: grpc.UntypedServiceImplementation = {
    StreamSecrets: (call: grpc.ServerDuplexStream<SotwRequest | MalformedRequest, SotwResponse>) =>
      serveStream('sotw', call, (ports) => new SotwProtocol(ports, wildcardNames)),
    DeltaSecrets: (call: grpc.ServerDuplexStream<DeltaRequest | MalformedRequest, DeltaResponse>) =>
      serveStream('delta', call, (ports) => new DeltaProtocol(ports)),
    FetchSecrets: (
      call: grpc.ServerUnaryCall<SotwRequest | MalformedRequest, SotwResponse>,
      callback: grpc.sendUnaryData<SotwResponse>,
    ) => {
      const request = call.request;
      const fail = (err: unknown) => {
        metrics.sdsRejected.inc({ status: String(grpcStatusOf(err)) });
        callback({ code: grpcStatusOf(err), details: publicMessageOf(err) });
      };
      if (request instanceof MalformedRequest) return fail(request.error);
      let context;
      try {
        context = describeCaller(call);
      } catch (err) {
        return fail(err);
      }
      const fetchDeps = { ...deps, clock, wildcardNames, timeoutMs: config.fetchTimeout * 1000 };
      fetchSecrets(fetchDeps, context, request).then((response) => {
        metrics.sdsResponses.inc({ kind: 'fetch' });
        callback(null, response);
      }, fail);
    },
  };

  const server = new grpc.Server(sdsGrpcServerOptions);
  server.addService(sdsServiceDefinition, handlers);

  let removeSocket: (() => Promise<void>) | undefined;
  let address: string;
  try {
    if (listen.kind === 'unix') {
      removeSocket = await bindUnixSocket(listen.path, options.socketMode ?? '0600', (addr) =>
        bindGrpc(server, addr, grpc.ServerCredentials.createInsecure()).then(() => undefined),
      );
      address = formatListenAddress(listen);
    } else if (transport === 'plaintext') {
      const port = await bindGrpc(server, formatListenAddress(listen), grpc.ServerCredentials.createInsecure());
      address = formatListenAddress({ ...listen, port });
    } else {
      const serverSpiffeId = options.serverSpiffeId ?? `spiffe://${issuer.trustDomain}/workload-ca/sds`;
      const ttl = options.leafTtlSeconds;
      tlsListener = await listenTls({
        grpcServer: server,
        host: listen.host,
        port: listen.port,
        feed: {
          watchCertificate: (listener) =>
            cache.watchCertificate('workload-ca/sds-server', { spiffeId: serverSpiffeId, ...(ttl ? { ttlSeconds: ttl } : {}) }, listener),
          watchBundle: (listener) => cache.watchBundle(listener),
        },
        requestClientCertificate: transport === 'mtls',
        logger,
      });
      address = formatListenAddress({ ...listen, port: tlsListener.port });
    }
  } catch (err) {
    server.forceShutdown();
    cache.close();
    throw err;
  }
  logger.info({ address, transport }, 'sds: listening');

  return {
    address,
    transport,
    cache,
    streams: () => open.size,
    async close() {
      for (const stream of [...open]) stream.finish();
      server.forceShutdown();
      await tlsListener?.close();
      cache.close();
      await removeSocket?.();
    },
  };
}

import type * as grpc from '@grpc/grpc-js';
import type { LeafIssuer } from '../ca/types.js';
import { formatListenAddress, type ListenAddress } from '../net/listen-address.js';
import type { SocketMode } from '../net/unix-socket.js';
import { sdsServerSpiffeId } from '../spiffe/reserved.js';
import type { Logger } from '../telemetry/logger.js';
import { openFilesLimit, sdsConnectionBudget } from '../transport/fd-budget.js';
import { keepaliveOf } from '../transport/keepalive.js';
import { listenPlain } from '../transport/plain-listener.js';
import type { ResolvedTransport } from '../transport/sds-transport.js';
import { listenTls, type TlsListener } from '../transport/tls-listener.js';
import type { SecretCache } from './cache.js';
import type { SdsConfig } from './config.js';

export interface SdsListenerOptions {
  listen: ListenAddress;
  transport: ResolvedTransport;
  issuer: LeafIssuer;
  /** Issues and renews the certificate a TLS listener presents, like any workload's. */
  cache: SecretCache;
  config: Pick<SdsConfig, 'serverDnsNames' | 'connections'>;
  /** File mode of a Unix socket listener. */
  socketMode: SocketMode;
  leafTtlSeconds?: number;
  logger: Logger;
}

export interface SdsListener {
  /** Where it listens, with the real port ("127.0.0.1:40123" or "unix:/path"). */
  readonly address: string;
  /** Present on a TLS listener: the client certificates each connection presented. */
  readonly tls?: TlsListener;
  /** True while the socket listens (readiness). */
  accepting(): boolean;
  /** A TLS listener's open connections and its cap on them (sds.connections.max and the descriptor budget); undefined for plaintext. */
  connections(): { open: number; max: number } | undefined;
  /** Stops accepting new connections, leaving open ones (the first step of a drain). */
  stopAccepting(): void;
  close(): Promise<void>;
}

/**
 * Puts the gRPC server on its listener: plaintext on a Unix socket or where the
 * transport says so, else TLS presenting the server's own SVID, renewed from the
 * cache and trusted by the current bundle and intermediates.
 */
export async function listenSds(server: grpc.Server, options: SdsListenerOptions): Promise<SdsListener> {
  const { listen, transport, issuer, cache, config } = options;
  if (listen.kind === 'unix' || transport === 'plaintext') {
    return { ...(await listenPlain(server, listen, options.socketMode)), connections: () => undefined };
  }
  // Reserved (spiffe/reserved.ts): no workload can be granted the identity Envoys pin for this server.
  const serverSpiffeId = sdsServerSpiffeId(issuer.trustDomain);
  const ttl = options.leafTtlSeconds;
  const maxConnections = Math.min(config.connections.max ?? Number.POSITIVE_INFINITY, sdsConnectionBudget(openFilesLimit()));
  const tls = await listenTls({
    grpcServer: server,
    host: listen.host,
    port: listen.port,
    feed: {
      watchCertificate: (listener) =>
        cache.watchCertificate(
          'workload-ca/sds-server',
          { spiffeId: serverSpiffeId, dnsNames: config.serverDnsNames, ...(ttl ? { ttlSeconds: ttl } : {}) },
          listener,
        ),
      watchTrust: (listener) => {
        const emit = () => listener({ rootsPem: cache.bundle.pem, intermediatesPem: issuer.intermediatesPem() });
        // A rotation activates an intermediate with a re-issue event, a root change with a bundle event.
        const cancels = [cache.watchBundle(emit), issuer.subscribe(emit)];
        return () => cancels.forEach((cancel) => cancel());
      },
    },
    requestClientCertificate: transport === 'mtls',
    connections: {
      handshakeTimeoutMs: config.connections.handshakeTimeout * 1000,
      perAddress: config.connections.perAddress,
      max: maxConnections,
      keepalive: keepaliveOf(config.connections),
    },
    logger: options.logger,
  });
  return {
    address: formatListenAddress({ ...listen, port: tls.port }),
    tls,
    accepting: () => tls.accepting(),
    connections: () => ({ open: tls.connections(), max: maxConnections }),
    stopAccepting: () => tls.stopAccepting(),
    close: () => tls.close(),
  };
}

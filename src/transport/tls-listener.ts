import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import type { DetailedPeerCertificate, SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { IssuedSvid, TrustBundle } from '../ca/types.js';
import { WcaError } from '../errors.js';
import { listen } from '../net/listen.js';
import type { Logger } from '../telemetry/logger.js';

/** Where the listener's own SVID and the trust bundle come from (the SecretCache). */
export interface SvidFeed {
  watchCertificate(listener: (svid: IssuedSvid) => void): () => void;
  watchBundle(listener: (bundle: TrustBundle) => void): () => void;
}

export interface TlsListenerOptions {
  grpcServer: grpc.Server;
  host: string;
  port: number;
  feed: SvidFeed;
  /**
   * Ask every client for a certificate without requiring one, and keep what each
   * connection presented, verified or not, for the authenticators.
   */
  requestClientCertificate: boolean;
  logger: Logger;
}

export interface TlsListener {
  /** The bound port (port 0 resolved). */
  readonly port: number;
  /**
   * DER certificates the client of a call presented, leaf first; empty when it
   * presented none. `peer` is the call's getPeer(). Throws UNAUTHENTICATED when no
   * open connection of this listener has that address: then nobody can say
   * whether a certificate was presented, and guessing "none" would let a bearer
   * token stand in for a certificate that failed.
   */
  peerCertificates(peer: string): readonly Uint8Array[];
  close(): Promise<void>;
}

/** More than any chain a client legitimately sends; the mtls authenticator rejects above its own cap. */
const MAX_PRESENTED = 10;
const none: readonly Uint8Array[] = Object.freeze([]);

/**
 * The SDS TLS listener: node:tls terminates TLS and hands each connection to
 * grpc-js as plain HTTP/2 (a connection injector). Not grpc-js's own TLS server
 * credentials, because on a listener that requests but does not require client
 * certificates grpc-js (1.14, server-interceptors.ts getAuthContext) returns an
 * empty auth context whenever the socket is not `authorized`: a client whose
 * certificate fails verification then looks exactly like one that sent none, so
 * a bearer token would be accepted next to a bad certificate. It also hands out
 * only the leaf. Here each connection's presented chain is taken from the TLS
 * socket itself (getPeerCertificate(true)), whatever OpenSSL thought of it, and
 * the mtls authenticator verifies it against the current bundle.
 */
export async function listenTls(options: TlsListenerOptions): Promise<TlsListener> {
  const { grpcServer, feed, requestClientCertificate, logger } = options;
  let identity: { cert: string; key: string } | undefined;
  let bundle: string | undefined;
  let server: tls.Server | undefined;
  let firstIdentity!: () => void;
  const ready = new Promise<void>((resolve) => (firstIdentity = resolve));
  // The bundle only feeds the CertificateRequest's CA list (it helps clients pick
  // a certificate); verification is the mtls authenticator's job.
  const context = (): SecureContextOptions => ({ cert: identity!.cert, key: identity!.key, ...(requestClientCertificate && bundle ? { ca: bundle } : {}) });
  // New connections use the newest SVID and bundle; open ones keep theirs.
  const update = () => {
    try {
      server?.setSecureContext(context());
    } catch (err) {
      // Keep the previous context: serving with it beats taking the listener down.
      logger.error({ err: (err as Error).message }, 'sds: cannot load the new TLS identity; keeping the previous one');
    }
  };
  const cancels = [
    feed.watchCertificate((svid) => {
      identity = { cert: svid.chainPem, key: svid.privateKeyPem };
      update();
      firstIdentity();
    }),
    feed.watchBundle((next) => {
      bundle = next.pem;
      if (identity && requestClientCertificate) update();
    }),
  ];

  // One object per connection, so a closing connection never removes a newer one that reuses its address.
  const connections = new Map<string, { readonly certificates: readonly Uint8Array[] }>();
  const sockets = new Set<Socket>();
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  let listening: { address: string; close(): Promise<void> };
  try {
    await ready;
    server = tls.createServer({
      ...context(),
      ALPNProtocols: ['h2'],
      requestCert: requestClientCertificate,
      // Never refuse at the TLS layer: a client without a certificate may carry a
      // bearer credential, and one with a bad certificate gets UNAUTHENTICATED
      // from the authenticator, a status it can read, instead of a reset.
      rejectUnauthorized: false,
    });
    // Raw sockets too, so close() also ends connections still in their handshake.
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => logger.debug({ code: err.code }, 'sds: TLS handshake failed'));
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      // http2 handles errors of the sessions it owns; this covers the moment before.
      socket.on('error', (err: NodeJS.ErrnoException) => logger.debug({ code: err.code }, 'sds: TLS connection error'));
      const key = peerKey(socket.remoteAddress, socket.remotePort);
      if (key === undefined) return void socket.destroy();
      const connection = { certificates: requestClientCertificate ? presentedChain(socket) : none };
      connections.set(key, connection);
      socket.once('close', () => {
        if (connections.get(key) === connection) connections.delete(key);
      });
      injector.injectConnection(socket);
    });
    listening = await listen(server, { kind: 'tcp', host: options.host, port: options.port });
  } catch (err) {
    cancels.forEach((cancel) => cancel());
    injector.destroy();
    throw err;
  }
  return {
    port: (server.address() as AddressInfo).port,
    peerCertificates(peer) {
      const connection = connections.get(peer);
      if (connection === undefined) {
        throw new WcaError('ERR_UNAUTHENTICATED', 'the TLS connection of this call is not known to the listener; refusing to guess its client certificate', {
          details: { reason: 'tls-connection-unknown' },
        });
      }
      return connection.certificates;
    },
    async close() {
      cancels.forEach((cancel) => cancel());
      injector.destroy();
      for (const socket of sockets) socket.destroy();
      connections.clear();
      await listening.close();
    },
  };
}

/** The same "address:port" grpc-js's call.getPeer() gives for the session's socket. */
function peerKey(address: string | undefined, port: number | undefined): string | undefined {
  return address && port ? `${address}:${port}` : undefined;
}

/** The chain the client sent, leaf first, as DER; empty when it sent no certificate. */
function presentedChain(socket: tls.TLSSocket): readonly Uint8Array[] {
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const chain: Uint8Array[] = [];
  while (cert?.raw && chain.length < MAX_PRESENTED) {
    chain.push(new Uint8Array(cert.raw));
    // A self-signed certificate is its own issuer: the end of the chain.
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return chain.length > 0 ? Object.freeze(chain) : none;
}

import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { DetailedPeerCertificate, SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { IssuedSvid } from '../ca/types.js';
import { WcaError } from '../errors.js';
import type { PresentedChain } from '../identity/types.js';
import { listen, type Listening } from '../net/listen.js';
import { capConnections, type CappedConnections, type ConnectionCaps } from '../net/connection-cap.js';
import type { Logger } from '../telemetry/logger.js';
import { watchSilence, type Keepalive } from './keepalive.js';

/**
 * What client chains are checked against: the roots they must end at, and CA
 * certificates that only help complete a chain sent without them (ours and the
 * upstream's intermediates). Without X509_V_FLAG_PARTIAL_CHAIN (Node never sets it)
 * OpenSSL accepts a path only if it ends at a self-signed certificate of the store,
 * so the intermediates never become trust anchors.
 */
export interface ClientTrust {
  rootsPem: string;
  intermediatesPem: readonly string[];
}

/** Where the listener's own SVID and the client trust come from. */
export interface SvidFeed {
  watchCertificate(listener: (svid: Pick<IssuedSvid, 'chainPem' | 'privateKeyPem'>) => void): () => void;
  /** Calls listener now and whenever the roots or the intermediates may have changed. */
  watchTrust(listener: (trust: ClientTrust) => void): () => void;
}

/** Bounds on what unauthenticated peers can make the listener hold (issue #8); connections count from the TCP accept, handshakes included. */
export interface ConnectionLimits extends ConnectionCaps {
  /** A TLS handshake not finished this long after the TCP accept is dropped. */
  handshakeTimeoutMs: number;
  /**
   * An established connection that has received nothing for intervalMs + timeoutMs is
   * destroyed. The gRPC server must PING at this interval (keepaliveServerOptions), or
   * live but quiet peers are cut too.
   */
  keepalive: Keepalive;
}

export interface TlsListenerOptions {
  grpcServer: grpc.Server;
  host: string;
  port: number;
  feed: SvidFeed;
  /**
   * Ask every client for a certificate without requiring one; OpenSSL verifies what
   * is presented and each connection keeps the chain with the verdict.
   */
  requestClientCertificate: boolean;
  connections: ConnectionLimits;
  logger: Logger;
  /** Which listener the log lines are about; default "sds". */
  name?: string;
  /**
   * Only callers with a verified client certificate matter (admin): at the `max`
   * cap a new connection closes the oldest one that has not completed a handshake
   * with a certificate OpenSSL verified, so unauthenticated peers holding or
   * reopening every slot cannot lock the operator out.
   */
  evictUnverified?: boolean;
}

export interface TlsListener {
  /** The bound port (port 0 resolved). */
  readonly port: number;
  /**
   * The client certificate chain of a call's connection, with OpenSSL's verdict;
   * undefined when the client presented none. `peer` is the call's getPeer().
   * Throws UNAUTHENTICATED when no open connection of this listener has that
   * address: then nobody can say whether a certificate was presented, and guessing
   * "none" would let a bearer token stand in for a certificate that failed.
   */
  peerChain(peer: string): PresentedChain | undefined;
  /** Open connections (handshakes included). */
  connections(): number;
  accepting(): boolean;
  stopAccepting(): void;
  close(): Promise<void>;
}

/** More than any chain a client legitimately sends. */
const MAX_PRESENTED = 10;

/**
 * The SDS TLS listener: node:tls terminates TLS and hands each connection to
 * grpc-js as plain HTTP/2 (a connection injector). Not grpc-js's own TLS server
 * credentials, because on a listener that requests but does not require client
 * certificates grpc-js (1.14, server-interceptors.ts getAuthContext) returns an
 * empty auth context whenever the socket is not `authorized`: a client whose
 * certificate fails verification then looks exactly like one that sent none, so
 * a bearer token would be accepted next to a bad certificate. Here OpenSSL
 * verifies the chain during the handshake (rejectUnauthorized: false, so a
 * refused chain still reaches the authenticator, which answers UNAUTHENTICATED
 * with the reason instead of a reset) and the connection keeps chain and verdict.
 */
export async function listenTls(options: TlsListenerOptions): Promise<TlsListener> {
  const { grpcServer, feed, requestClientCertificate, logger, connections: limits } = options;
  const name = options.name ?? 'sds';
  let identity: { cert: string; key: string } | undefined;
  let trust: string[] = [];
  let server: tls.Server | undefined;
  let firstIdentity!: () => void;
  const ready = new Promise<void>((resolve) => (firstIdentity = resolve));
  const context = (): SecureContextOptions => ({ cert: identity!.cert, key: identity!.key, ...(requestClientCertificate && trust.length ? { ca: trust } : {}) });
  // New connections use the newest SVID and trust; open ones keep theirs.
  const update = () => {
    try {
      server?.setSecureContext(context());
    } catch (err) {
      // Keep the previous context: serving with it beats taking the listener down.
      logger.error({ err: (err as Error).message }, `${name}: cannot load the new TLS identity; keeping the previous one`);
    }
  };
  const cancels = [
    feed.watchCertificate((svid) => {
      identity = { cert: svid.chainPem, key: svid.privateKeyPem };
      update();
      firstIdentity();
    }),
    feed.watchTrust((next) => {
      const certs = [next.rootsPem, ...next.intermediatesPem];
      if (certs.join('') === trust.join('')) return;
      trust = certs;
      if (identity && requestClientCertificate) update();
    }),
  ];

  // One object per connection, so a closing connection never removes a newer one that reuses its address.
  const established = new Map<string, { readonly chain: PresentedChain | undefined }>();
  // Raw sockets whose TLS session presented a certificate OpenSSL verified (raw and TLS socket share address and port).
  const verified = new Set<string>();
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  let listening: Listening;
  let capped!: CappedConnections;
  const silence = watchSilence(limits.keepalive, (socket) =>
    logger.debug({ address: socket.remoteAddress }, `${name}: nothing received from the peer within a PING interval and its timeout; closing the connection`),
  );
  try {
    await ready;
    server = tls.createServer({
      ...context(),
      ALPNProtocols: ['h2'],
      requestCert: requestClientCertificate,
      rejectUnauthorized: false,
      handshakeTimeout: limits.handshakeTimeoutMs,
    });
    // Raw sockets: counted per address from the accept on, and ended by close() even mid-handshake.
    capped = capConnections(
      server,
      limits,
      (address) => logger.debug({ address, limit: limits.perAddress }, `${name}: too many connections from one address; closing the new one`),
      options.evictUnverified ? (raw) => !verified.has(peerKey(raw.remoteAddress, raw.remotePort) ?? '') : undefined,
    );
    // Once a 'tlsClientError' listener exists, Node leaves the socket open (a timed-out
    // handshake included): without this destroy, half-open connections stayed forever.
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      logger.debug({ code: err.code }, `${name}: TLS handshake failed`);
      socket.destroy();
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      // http2 handles errors of the sessions it owns; this covers the moment before.
      socket.on('error', (err: NodeJS.ErrnoException) => logger.debug({ code: err.code }, `${name}: TLS connection error`));
      const key = peerKey(socket.remoteAddress, socket.remotePort);
      if (key === undefined) return void socket.destroy();
      const connection = { chain: requestClientCertificate ? presentedChain(socket) : undefined };
      established.set(key, connection);
      if (connection.chain?.verifyError === null) verified.add(key);
      socket.once('close', () => {
        if (established.get(key) === connection) established.delete(key);
        verified.delete(key);
      });
      silence.add(socket);
      injector.injectConnection(socket);
    });
    listening = await listen(server, { kind: 'tcp', host: options.host, port: options.port });
  } catch (err) {
    cancels.forEach((cancel) => cancel());
    silence.stop();
    injector.destroy();
    throw err;
  }
  return {
    port: (server.address() as AddressInfo).port,
    peerChain(peer) {
      const connection = established.get(peer);
      if (connection === undefined) {
        throw new WcaError('ERR_UNAUTHENTICATED', 'the TLS connection of this call is not known to the listener; refusing to guess its client certificate', {
          details: { reason: 'tls-connection-unknown' },
        });
      }
      return connection.chain;
    },
    connections: () => capped.count(),
    accepting: () => listening.accepting(),
    stopAccepting: () => listening.stopAccepting(),
    async close() {
      cancels.forEach((cancel) => cancel());
      silence.stop();
      injector.destroy();
      capped.destroyAll();
      established.clear();
      verified.clear();
      await listening.close();
    },
  };
}

/** The same "address:port" grpc-js's call.getPeer() gives for the session's socket. */
function peerKey(address: string | undefined, port: number | undefined): string | undefined {
  return address && port ? `${address}:${port}` : undefined;
}

/** The chain the client sent, leaf first, as DER, with OpenSSL's verdict; undefined when it sent no certificate. */
function presentedChain(socket: tls.TLSSocket): PresentedChain | undefined {
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const certificates: Uint8Array[] = [];
  while (cert?.raw && certificates.length < MAX_PRESENTED) {
    certificates.push(new Uint8Array(cert.raw));
    // A self-signed certificate is its own issuer: the end of the chain.
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  if (certificates.length === 0) return undefined;
  // authorizationError is an OpenSSL X509_V_ERR name (e.g. INVALID_PURPOSE, PATH_LENGTH_EXCEEDED).
  const verifyError = socket.authorized ? null : String(socket.authorizationError ?? 'UNVERIFIED');
  return Object.freeze({ certificates: Object.freeze(certificates), verifyError });
}

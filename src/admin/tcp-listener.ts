import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { WcaError } from '../errors.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import { formatListenAddress } from '../net/listen-address.js';
import { shutdownGrpc } from '../net/grpc-bind.js';
import { keepaliveOf, keepaliveServerOptions } from '../transport/keepalive.js';
import { listenTls, type ConnectionLimits, type TlsListener } from '../transport/tls-listener.js';
import type { AdminTcpConfig } from './config.js';
import { adminTcpCaller, type AdminCaller } from './tcp-caller.js';

/** The TCP admin listener, with its credentials read into memory. */
export interface AdminTcpOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  clientCaPem: string;
  allow: readonly string[];
  connections: ConnectionLimits & { idleTimeoutMs: number };
}

/** Reads admin.tcp's files once at start; a missing or unusable one is a config error (exit 3) naming the key, never the key's bytes. */
export async function readAdminTcpConfig(config: AdminTcpConfig): Promise<AdminTcpOptions> {
  const read = (key: keyof AdminTcpConfig['tls']) =>
    readFile(config.tls[key], 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new WcaError('ERR_CONFIG_FILE', `admin.tcp.tls.${key}: cannot read ${config.tls[key]}: ${err.code ?? 'error'}`);
    });
  // One at a time, so the error names the first missing file in the order the config lists them.
  const certPem = await read('certFile');
  const keyPem = await read('keyFile');
  const clientCaPem = await read('clientCaFile');
  try {
    createSecureContext({ cert: certPem, key: keyPem, ca: clientCaPem });
  } catch (err) {
    // OpenSSL's reason (e.g. KEY_VALUES_MISMATCH) names the problem without quoting the key.
    throw new WcaError('ERR_CONFIG_INVALID', `admin.tcp.tls: the certificate, key and client CA cannot be used together: ${(err as { code?: string }).code ?? 'unusable'}`);
  }
  if (config.address.kind !== 'tcp') throw new WcaError('ERR_CONFIG_INVALID', 'admin.tcp.address: must be host:port');
  const c = config.connections;
  return {
    host: config.address.host,
    port: config.address.port,
    certPem,
    keyPem,
    clientCaPem,
    allow: config.allow,
    connections: { handshakeTimeoutMs: c.handshakeTimeout * 1000, idleTimeoutMs: c.idleTimeout * 1000, perAddress: c.perAddress, max: c.max, keepalive: keepaliveOf(c) },
  };
}

export interface AdminTcpListener {
  /** host:port actually bound (port 0 resolved). */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves `service` on TCP with mutual TLS through the listener the SDS side uses
 * (node:tls verifies the client chain in the handshake; connections are capped per
 * address and in all from the accept on, handshakes time out). Each call learns its
 * caller from `identify`, which refuses anything but an allowed, verified SPIFFE ID.
 */
export async function listenAdminTcp(
  options: AdminTcpOptions,
  addService: (server: grpc.Server, identify: (call: grpc.ServerUnaryCall<unknown, unknown>) => AdminCaller) => void,
  logger: Logger,
): Promise<AdminTcpListener> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024,
    'grpc.max_concurrent_streams': limits.adminTcpStreamsPerConnection,
    'grpc.max_connection_idle_ms': options.connections.idleTimeoutMs,
    ...keepaliveServerOptions(options.connections.keepalive),
  });
  const allow = new Set(options.allow);
  // Assigned before the first connection can be accepted: listenTls resolves once bound.
  let peerChain: TlsListener['peerChain'] | undefined;
  addService(server, (call) => {
    const peer = call.getPeer();
    try {
      return adminTcpCaller(peer, peerChain!(peer), allow, Date.now());
    } catch (err) {
      return { caller: `tls:${peer}`, refusal: err as WcaError };
    }
  });
  const listener = await listenTls({
    grpcServer: server,
    host: options.host,
    port: options.port,
    feed: {
      watchCertificate: (emit) => (emit({ chainPem: options.certPem, privateKeyPem: options.keyPem }), () => undefined),
      watchTrust: (emit) => (emit({ rootsPem: options.clientCaPem, intermediatesPem: [] }), () => undefined),
    },
    requestClientCertificate: true,
    connections: options.connections,
    logger,
    name: 'admin',
    evictUnverified: true,
  }).catch((err: unknown) => {
    server.forceShutdown();
    throw err;
  });
  peerChain = (peer) => listener.peerChain(peer);
  return {
    address: formatListenAddress({ kind: 'tcp', host: options.host, port: listener.port }),
    async close() {
      await shutdownGrpc(server, 5000);
      await listener.close();
      server.forceShutdown();
    },
  };
}

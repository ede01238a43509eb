import http2 from 'node:http2';
import net from 'node:net';

/** Where a raw client connects: TCP (optionally from a chosen loopback address) or a Unix socket. */
export type RawTarget = { host: string; port: number; localAddress?: string } | { path: string };

export const streamSecretsPath = '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets';

/** How a raw stream ended: the gRPC status from its trailers (or trailers-only headers), else the HTTP/2 reset code (0 with a status). */
export interface RawOutcome {
  grpcStatus?: number;
  grpcMessage?: string;
  rstCode: number;
}

/** The target of `workload-ca serve`'s printed address ("127.0.0.1:1234" or "unix:/path"). */
export function rawTarget(address: string, localAddress?: string): RawTarget {
  if (address.startsWith('unix:')) return { path: address.slice('unix:'.length) };
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)), ...(localAddress ? { localAddress } : {}) };
}

/** A plaintext HTTP/2 connection made with node:http2 alone: no gRPC library between the test and the wire. */
export async function connectRaw(target: RawTarget): Promise<http2.ClientHttp2Session> {
  const session = http2.connect('http://sds.test', {
    createConnection: () => ('path' in target ? net.connect(target.path) : net.connect({ host: target.host, port: target.port, localAddress: target.localAddress })),
  });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/**
 * Opens a call (StreamSecrets unless `path` names another method) with headers only: no credential and no request
 * message, the cheapest stream an attacker can hold. Resolves when the stream ends.
 */
export function openIdleStream(session: http2.ClientHttp2Session, path = streamSecretsPath): { stream: http2.ClientHttp2Stream; outcome: Promise<RawOutcome> } {
  const stream = session.request(
    { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' },
    { endStream: false },
  );
  // Settles at the status: an attacker never closes its own half, so the stream may stay open after it.
  const outcome = new Promise<RawOutcome>((resolve) => {
    const take = (headers: http2.IncomingHttpHeaders) => {
      if (headers['grpc-status'] === undefined) return;
      resolve({ grpcStatus: Number(headers['grpc-status']), grpcMessage: decodeURIComponent(String(headers['grpc-message'] ?? '')), rstCode: 0 });
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('error', () => undefined);
    stream.on('data', () => undefined);
    stream.on('close', () => resolve({ rstCode: stream.rstCode ?? 0 }));
  });
  return { stream, outcome };
}

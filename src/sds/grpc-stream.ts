import type * as grpc from '@grpc/grpc-js';
import type { DetailedPeerCertificate } from 'node:tls';
import type { ListenAddress } from '../config/listen.js';
import type { CallerContext } from '../identity/types.js';
import type { ResolvedTransport } from '../transport/sds-transport.js';
import type { MalformedRequest } from './messages.js';
import { StreamSession, type ProtocolFactory, type SessionDeps, type StreamIo } from './session.js';
import type { DeltaRequest, SotwRequest } from './types.js';

type Call = grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerUnaryCall<unknown, unknown>;

function peerCertificatesOf(call: Call): Uint8Array[] | undefined {
  let cert = call.getAuthContext()?.sslPeerCertificate as DetailedPeerCertificate | undefined;
  const chain: Uint8Array[] = [];
  while (cert?.raw && chain.length < 10) {
    chain.push(new Uint8Array(cert.raw));
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return chain.length > 0 ? chain : undefined;
}

/** What the authenticators may know about a call, before its first request names the node. */
export function callerContextOf(call: Call, transport: ResolvedTransport, listen: ListenAddress): Omit<CallerContext, 'node'> {
  const metadata = new Map<string, string[]>();
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    metadata.set(key, values.map((v) => (typeof v === 'string' ? v : v.toString('base64'))));
  }
  // Only TLS listeners can carry client certificates; asking grpc-js costs an object per call.
  const peerCertificates = transport === 'mtls' || transport === 'tls' ? peerCertificatesOf(call) : undefined;
  return {
    transport: transport === 'unix' ? 'unix' : transport === 'plaintext' ? 'tcp' : 'tls',
    peerAddress: listen.kind === 'unix' ? listen.path : call.getPeer(),
    metadata,
    ...(peerCertificates ? { peerCertificates } : {}),
  };
}

/** What the streams of one kind share: the server's set of open streams and their metrics. */
export interface StreamRegistry {
  readonly open: Set<{ finish(): void }>;
  readonly gauge: { inc(): void; dec(): void };
  readonly responses: { inc(): void };
}

/**
 * One grpc-js duplex call adapted to a StreamSession, tracked in the server's open
 * set until it ends. A class, so each of tens of thousands of streams costs one
 * object with prototype methods instead of a handful of closures.
 */
export class ServedStream<Request extends SotwRequest | DeltaRequest, Response> implements StreamIo<Response> {
  private readonly session: StreamSession<Request, Response>;
  private open = true;

  constructor(
    private readonly call: grpc.ServerDuplexStream<Request | MalformedRequest, Response>,
    readonly context: Omit<CallerContext, 'node'>,
    private readonly registry: StreamRegistry,
    deps: SessionDeps,
    makeProtocol: ProtocolFactory<Request, Response>,
  ) {
    this.session = new StreamSession(deps, this, makeProtocol);
    registry.open.add(this);
    registry.gauge.inc();
    call.on('data', (message: Request | MalformedRequest) => this.session.receive(message));
    call.on('end', () => {
      // The client half-closed: nothing more to say on this stream.
      this.finish();
      call.end();
    });
    const finish = this.finish.bind(this);
    call.on('cancelled', finish);
    call.on('error', finish);
    call.on('close', finish);
  }

  send(response: Response): void {
    if (!this.open) return;
    this.call.write(response);
    this.registry.responses.inc();
  }

  fail(status: number, message: string): void {
    if (!this.open) return;
    this.finish();
    this.call.emit('error', { code: status, details: message });
  }

  /** The peer went away, the stream failed, or the server is stopping: drop watches, send nothing more. */
  finish(): void {
    if (!this.open) return;
    this.open = false;
    this.registry.open.delete(this);
    this.registry.gauge.dec();
    this.session.close();
  }
}

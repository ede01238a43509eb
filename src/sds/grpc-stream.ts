import type * as grpc from '@grpc/grpc-js';
import type { ListenAddress } from '../net/listen-address.js';
import type { CallerContext, PresentedChain } from '../identity/types.js';
import type { ResolvedTransport } from '../transport/sds-transport.js';
import type { StreamAdmission } from './admission.js';
import type { MalformedRequest } from './messages.js';
import { StreamSession, type ProtocolFactory, type SessionDeps, type StreamIo, type TrackedResponse } from './session.js';
import type { DeltaRequest, SotwRequest } from './types.js';

type Call = grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerUnaryCall<unknown, unknown>;

/** The certificate chain the client of a connection presented, by the call's getPeer() (see TlsListener). */
export type PeerChainOf = (peer: string) => PresentedChain | undefined;

/**
 * What the authenticators may know about a call, before its first request names
 * the node. Throws when the call's client certificates cannot be known.
 */
export function callerContextOf(
  call: Call,
  transport: ResolvedTransport,
  listen: ListenAddress,
  peerChainOf?: PeerChainOf,
): Omit<CallerContext, 'node'> {
  const metadata = new Map<string, string[]>();
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    metadata.set(key, values.map((v) => (typeof v === 'string' ? v : v.toString('base64'))));
  }
  const peer = call.getPeer();
  const peerChain = peerChainOf?.(peer);
  return {
    transport: transport === 'unix' ? 'unix' : transport === 'plaintext' ? 'tcp' : 'tls',
    peerAddress: listen.kind === 'unix' ? listen.path : peer,
    connection: peer,
    metadata,
    ...(peerChain ? { peerChain } : {}),
  };
}

/** What the streams of one kind share: the server's set of open streams, its admission counts and their metrics. */
export interface StreamRegistry {
  readonly open: Set<{ fail(status: number, message: string): void }>;
  readonly admission: StreamAdmission;
  readonly gauge: { inc(): void; dec(): void };
  readonly responses: { inc(): void };
}

/**
 * One grpc-js duplex call adapted to a StreamSession, tracked in the server's open
 * set and counted against its peer address (already admitted by the caller) until
 * it ends. A class, so each of tens of thousands of streams costs one object with
 * prototype methods instead of a handful of closures.
 */
export class ServedStream<Request extends SotwRequest | DeltaRequest, Response extends TrackedResponse> implements StreamIo<Response> {
  private readonly session: StreamSession<Request, Response>;
  private open = true;
  private countedAuthenticated = false;

  constructor(
    private readonly call: grpc.ServerDuplexStream<Request | MalformedRequest, Response>,
    readonly context: Omit<CallerContext, 'node'>,
    /** The key admission counted this stream under (StreamAdmission.open). */
    private readonly admittedAs: string,
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

  authenticated(): void {
    if (!this.open || this.countedAuthenticated) return;
    this.registry.admission.authenticate();
    this.countedAuthenticated = true;
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
    this.registry.admission.close(this.admittedAs, this.countedAuthenticated);
    this.registry.gauge.dec();
    this.session.close();
  }
}

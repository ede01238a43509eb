import type { Clock } from '../clock.js';
import { WcaError, grpcStatusOf, publicMessageOf } from '../errors.js';
import type { CallerContext } from '../identity/types.js';
import type { Logger } from '../telemetry/logger.js';
import { grpcCodeName, type Metrics } from '../telemetry/metrics.js';
import { untrustedText } from '../telemetry/untrusted-text.js';
import { authorizeCaller, type AuthorizeDeps } from './caller.js';
import { MalformedRequest } from './messages.js';
import { NackLog } from './nack-log.js';
import { countShed } from './shed.js';
import type { Protocol, ProtocolDeps } from './protocol.js';
import type { IdentityStreams } from './identity-streams.js';
import type { SourceFactory } from './source.js';
import { StreamLog } from './stream-log.js';
import type { UnknownName } from './subscription.js';
import type { DeltaRequest, ErrorDetail, Resource, ResourceSource, SotwRequest } from './types.js';
import type { ConvergenceTracker, SubscriberTrack } from './convergence.js';

/** Requests accepted while the first one is still being authenticated. */
const queuedRequestsMax = 16;
/** Distinct unknown names logged per stream, so a client cycling through names cannot flood the log. */
const unknownLoggedMax = 16;

/** The tiny stream interface the session needs; the gRPC wiring adapts a call to it. */
export interface StreamIo<Response> {
  context: Omit<CallerContext, 'node'>;
  send(response: Response): void;
  /** Ends the stream with this gRPC status and message. */
  fail(status: number, message: string): void;
  /** The caller is authenticated: count the stream toward the server-wide limit; throws ERR_SDS_LIMIT when full. */
  authenticated(): void;
}

export interface SessionDeps extends AuthorizeDeps {
  logger: Logger;
  sources: SourceFactory;
  metrics: Metrics;
  /** Bounded metric label for a resource name. */
  resourceLabel(name: string): string;
  clock: Clock;
  /** A stream with no request after this long ends: an idle stream costs the server and tells it nothing. */
  firstRequestTimeoutMs: number;
  /** Where authorized streams register, so eviction and lineage deadlines can end them. */
  identities?: IdentityStreams;
  /** Learns from ACKs which authority and bundle each stream holds. */
  convergence?: ConvergenceTracker;
}

/** What the convergence tracker reads from any response (SotW and Delta alike). */
export interface TrackedResponse {
  nonce: string;
  resources: readonly Resource[];
}

export type ProtocolFactory<Request, Response> = (ports: Required<ProtocolDeps<Response>>) => Protocol<Request>;

/**
 * What one stream's protocol may do to the outside world: send, count NACKs, log
 * and count names that will never exist. A class, so each of tens of thousands of
 * streams costs one object with prototype methods instead of a bag of closures.
 */
class StreamPorts<Response extends TrackedResponse> implements Required<ProtocolDeps<Response>> {
  private unknownLogged: Set<string> | undefined;
  private nackLog: NackLog | undefined;

  constructor(
    readonly source: ResourceSource,
    readonly logger: StreamLog,
    private readonly io: StreamIo<Response>,
    private readonly deps: SessionDeps,
    private readonly track: SubscriberTrack | undefined,
  ) {}

  send(response: Response): void {
    this.io.send(response);
    this.track?.sent(response.nonce, response.resources);
  }

  /** Counted every time; logged sampled, cut and escaped (see NackLog): the detail is the client's text. */
  onNack(names: readonly string[], detail: ErrorDetail, response: Record<string, unknown>): void {
    for (const name of names) this.deps.metrics.sdsNacks.inc({ resource: this.deps.resourceLabel(name) });
    (this.nackLog ??= new NackLog(this.logger)).record(names, detail, response);
  }

  /** The client answered a response: what it now holds (ACK) or refused (NACK). */
  answered(nonce: string, rejected: boolean): void {
    this.track?.answered(nonce, rejected);
  }

  close(): void {
    this.nackLog?.close();
    this.track?.close();
  }

  /** Never fatal (a typo must not kill a stream): counted every time, logged once per name. */
  onUnknown({ name, reason }: UnknownName): void {
    this.deps.metrics.sdsUnknownResources.inc();
    this.unknownLogged ??= new Set();
    if (this.unknownLogged.has(name) || this.unknownLogged.size >= unknownLoggedMax) return;
    this.unknownLogged.add(name);
    this.logger.warn({ resource: untrustedText(name, 128), reason: reason.code }, 'sds: requested resource does not exist; it is never sent, the stream stays open');
  }
}

/**
 * One SDS stream: authenticates on the first request (whose node is the node for
 * the stream's lifetime), then feeds requests to the protocol state machine. Any
 * error ends this stream only, with the error's gRPC status.
 */
export class StreamSession<Request extends SotwRequest | DeltaRequest, Response extends TrackedResponse> {
  private state: 'new' | 'authenticating' | 'ready' | 'closed' = 'new';
  private readonly queue: Request[] = [];
  private protocol: Protocol<Request> | undefined;
  private ports: StreamPorts<Response> | undefined;
  private readonly log: StreamLog;
  private cancelFirstRequestDeadline: (() => void) | undefined;
  private release: (() => void) | undefined;

  constructor(
    private readonly deps: SessionDeps,
    private readonly io: StreamIo<Response>,
    private readonly makeProtocol: ProtocolFactory<Request, Response>,
  ) {
    this.log = new StreamLog(deps.logger, { peer: io.context.peerAddress });
    this.cancelFirstRequestDeadline = deps.clock.schedule(() => this.firstRequestMissed(), deps.firstRequestTimeoutMs);
  }

  receive(message: Request | MalformedRequest): void {
    if (this.state === 'closed') return;
    if (message instanceof MalformedRequest) return this.end(message.error);
    if (this.state === 'ready') return this.handle(message);
    if (this.queue.length >= queuedRequestsMax) {
      return this.end(new WcaError('ERR_SDS_BAD_REQUEST', `more than ${queuedRequestsMax} requests before the first was answered`));
    }
    this.queue.push(message);
    if (this.state === 'new') void this.start(message);
  }

  /** The peer went away or the server is stopping: drop watches, send nothing. */
  close(): void {
    this.state = 'closed';
    this.stopFirstRequestDeadline();
    this.release?.();
    this.release = undefined;
    this.protocol?.close();
    this.ports?.close();
    this.queue.length = 0;
  }

  private async start(first: Request): Promise<void> {
    this.state = 'authenticating';
    this.stopFirstRequestDeadline();
    try {
      const caller = await authorizeCaller(this.deps, this.log, this.io.context, first.node);
      if (this.state !== 'authenticating') return;
      this.io.authenticated();
      this.release = this.deps.identities?.admit(caller, (err) => this.end(err));
      // The node.id is the caller's own text, written into every later line of this stream.
      this.log.bind({ spiffeId: caller.grant.spiffeId, ...(caller.node ? { nodeId: untrustedText(caller.node.id, 256) } : {}) });
      const track = this.deps.convergence?.subscriber(untrustedText(caller.node?.id ?? caller.grant.spiffeId, 128));
      this.ports = new StreamPorts(this.deps.sources(caller, (err) => this.end(err)), this.log, this.io, this.deps, track);
      this.protocol = this.makeProtocol(this.ports);
      this.state = 'ready';
      for (const request of this.queue.splice(0)) this.handle(request);
    } catch (err) {
      this.end(err);
    }
  }

  private firstRequestMissed(): void {
    this.cancelFirstRequestDeadline = undefined;
    if (this.state !== 'new') return;
    const seconds = this.deps.firstRequestTimeoutMs / 1000;
    this.end(new WcaError('ERR_SDS_FIRST_REQUEST_TIMEOUT', `no request within ${seconds}s of opening the stream (sds.firstRequestTimeout)`), true);
  }

  private stopFirstRequestDeadline(): void {
    this.cancelFirstRequestDeadline?.();
    this.cancelFirstRequestDeadline = undefined;
  }

  private handle(request: Request): void {
    if (this.state !== 'ready') return;
    if (request.responseNonce !== '') this.ports?.answered(request.responseNonce, request.errorDetail !== undefined);
    try {
      this.protocol!.handle(request);
    } catch (err) {
      this.end(err);
    }
  }

  /** `quiet`: an outcome an attacker can cause by the thousand, logged at debug so it cannot flood the log (the metric still counts it). */
  private end(err: unknown, quiet = false): void {
    if (this.state === 'closed') return;
    this.close();
    const status = grpcStatusOf(err);
    this.deps.metrics.sdsRejected.inc({ code: grpcCodeName(status) });
    countShed(this.deps.metrics, err);
    if (err instanceof WcaError) this.log[quiet ? 'debug' : 'info']({ code: err.code, message: err.message }, 'sds: stream ended with error');
    else this.log.error({ err }, 'sds: stream failed');
    this.io.fail(status, publicMessageOf(err));
  }
}

import { WcaError, grpcStatusOf, publicMessageOf } from '../errors.js';
import type { CallerContext } from '../identity/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { authorizeCaller, type AuthorizeDeps } from './caller.js';
import { MalformedRequest } from './messages.js';
import type { Protocol, ProtocolDeps } from './protocol.js';
import type { SourceFactory } from './source.js';
import { StreamLog } from './stream-log.js';
import type { UnknownName } from './subscription.js';
import type { DeltaRequest, Resource, ResourceSource, SotwRequest } from './types.js';
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
}

export interface SessionDeps extends AuthorizeDeps {
  logger: Logger;
  sources: SourceFactory;
  metrics: Metrics;
  /** Bounded metric label for a resource name. */
  resourceLabel(name: string): string;
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

  onNack(names: readonly string[]): void {
    for (const name of names) this.deps.metrics.sdsNacks.inc({ resource: this.deps.resourceLabel(name) });
  }

  /** Never fatal (a typo must not kill a stream): counted every time, logged once per name. */
  onUnknown({ name, reason }: UnknownName): void {
    this.deps.metrics.sdsUnknownResources.inc();
    this.unknownLogged ??= new Set();
    if (this.unknownLogged.has(name) || this.unknownLogged.size >= unknownLoggedMax) return;
    this.unknownLogged.add(name);
    this.logger.warn({ resource: name.slice(0, 128), reason: reason.message }, 'sds: requested resource does not exist; it is never sent, the stream stays open');
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
  private track: SubscriberTrack | undefined;
  private readonly log: StreamLog;

  constructor(
    private readonly deps: SessionDeps,
    private readonly io: StreamIo<Response>,
    private readonly makeProtocol: ProtocolFactory<Request, Response>,
  ) {
    this.log = new StreamLog(deps.logger, { peer: io.context.peerAddress });
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
    this.protocol?.close();
    this.track?.close();
    this.queue.length = 0;
  }

  private async start(first: Request): Promise<void> {
    this.state = 'authenticating';
    try {
      const caller = await authorizeCaller(this.deps, this.log, this.io.context, first.node);
      if (this.state !== 'authenticating') return;
      this.log.bind({ spiffeId: caller.grant.spiffeId, nodeId: caller.node?.id });
      this.track = this.deps.convergence?.subscriber(caller.node?.id ?? caller.grant.spiffeId);
      this.protocol = this.makeProtocol(new StreamPorts(this.deps.sources(caller), this.log, this.io, this.deps, this.track));
      this.state = 'ready';
      for (const request of this.queue.splice(0)) this.handle(request);
    } catch (err) {
      this.end(err);
    }
  }

  private handle(request: Request): void {
    if (this.state !== 'ready') return;
    if (request.responseNonce !== '') this.track?.answered(request.responseNonce, request.errorDetail !== undefined);
    try {
      this.protocol!.handle(request);
    } catch (err) {
      this.end(err);
    }
  }

  private end(err: unknown): void {
    if (this.state === 'closed') return;
    this.close();
    const status = grpcStatusOf(err);
    this.deps.metrics.sdsRejected.inc({ status: String(status) });
    if (err instanceof WcaError) this.log.info({ code: err.code, message: err.message }, 'sds: stream ended with error');
    else this.log.error({ err }, 'sds: stream failed');
    this.io.fail(status, publicMessageOf(err));
  }
}

import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../clock.js';
import { grpcStatusOf, publicMessageOf, WcaError } from '../errors.js';
import type { CallerContext } from '../identity/types.js';
import { grpcCodeName, type Metrics } from '../telemetry/metrics.js';
import { authorizeCaller, type AuthorizeDeps } from './caller.js';
import { MalformedRequest } from './messages.js';
import type { SourceFactory } from './source.js';
import { sotwVersion } from './sotw.js';
import type { Log } from './stream-log.js';
import type { Resource, SotwRequest, SotwResponse } from './types.js';

export interface FetchDeps extends AuthorizeDeps {
  logger: Log;
  metrics: Metrics;
  sources: SourceFactory;
  clock: Clock;
  wildcardNames: readonly string[];
  /** How long to wait for a first certificate before UNAVAILABLE. */
  timeoutMs: number;
}

/**
 * FetchSecrets: one authorized request, the current value of every requested name.
 * Unlike a stream, a unary call cannot wait for a name that will never exist, so
 * such a name is NOT_FOUND, naming it.
 */
export async function fetchSecrets(
  deps: FetchDeps,
  context: Omit<CallerContext, 'node'>,
  request: SotwRequest,
): Promise<SotwResponse> {
  const caller = await authorizeCaller(deps, deps.logger, context, request.node);
  let shed: (err: unknown) => void = () => {};
  const source = deps.sources(caller, (err) => shed(err));
  const names = request.resourceNames.length > 0 ? request.resourceNames : deps.wildcardNames;
  const unknown = names.map((name) => source.check(name)).find((reason) => reason !== undefined);
  if (unknown) {
    deps.metrics.sdsUnknownResources.inc();
    throw unknown;
  }
  const found = new Map<string, Resource>();
  const cancels: (() => void)[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      shed = reject;
      const cancelTimeout = deps.clock.schedule(
        () => reject(new WcaError('ERR_CA_NOT_READY', `secrets not ready within ${deps.timeoutMs} ms, retry later`)),
        deps.timeoutMs,
      );
      cancels.push(cancelTimeout);
      const arrived = () => {
        if (found.size === names.length) resolve();
      };
      for (const name of names) {
        cancels.push(
          source.watch(name, (resource) => {
            found.set(name, resource);
            arrived();
          }),
        );
      }
    });
  } finally {
    cancels.forEach((cancel) => cancel());
  }
  const resources = [...names].sort().map((name) => found.get(name)!);
  return { versionInfo: sotwVersion(resources), resources, nonce: '' };
}

/** A call close() must answer with a status if nothing else has. */
export interface Endable {
  fail(status: number, message: string): void;
}

export interface FetchHandlerDeps {
  fetch: FetchDeps;
  metrics: Metrics;
  /** Calls not yet answered, so close() can answer each with UNAVAILABLE. */
  inFlight: Set<Endable>;
  /** The error every new call gets once the server is stopping; undefined while it serves. */
  refusal(): WcaError | undefined;
  /** What the authenticators may know about the call; throws when its client certificates cannot be known. */
  describeCaller(call: grpc.ServerUnaryCall<unknown, unknown>): Omit<CallerContext, 'node'>;
}

/** The gRPC FetchSecrets handler: each call is answered exactly once, by fetchSecrets or by close(). */
export function fetchSecretsHandler(d: FetchHandlerDeps): grpc.handleUnaryCall<SotwRequest | MalformedRequest, SotwResponse> {
  return (call, callback) => {
    const request = call.request;
    const fail = (err: unknown) => {
      d.metrics.sdsRejected.inc({ code: grpcCodeName(grpcStatusOf(err)) });
      callback({ code: grpcStatusOf(err), details: publicMessageOf(err) });
    };
    const refused = d.refusal();
    if (refused) return fail(refused);
    if (request instanceof MalformedRequest) return fail(request.error);
    let context;
    try {
      context = d.describeCaller(call);
    } catch (err) {
      return fail(err);
    }
    // Answered once: by fetchSecrets, or with UNAVAILABLE by close(), whichever comes first.
    const pending: Endable = {
      fail(status, message) {
        if (!d.inFlight.delete(pending)) return;
        d.metrics.sdsRejected.inc({ code: grpcCodeName(status) });
        callback({ code: status, details: message });
      },
    };
    d.inFlight.add(pending);
    fetchSecrets(d.fetch, context, request).then(
      (response) => {
        if (!d.inFlight.delete(pending)) return;
        d.metrics.sdsResponses.inc({ kind: 'fetch' });
        callback(null, response);
      },
      (err) => pending.fail(grpcStatusOf(err), publicMessageOf(err)),
    );
  };
}

import type { Clock } from '../clock.js';
import { WcaError } from '../errors.js';
import type { CallerContext } from '../identity/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import { authorizeCaller, type AuthorizeDeps } from './caller.js';
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

import type { AuthenticatorChain } from '../identity/chain.js';
import type { CallerContext, Policy } from '../identity/types.js';
import type { StreamCaller } from './source.js';
import type { Log } from './stream-log.js';
import type { NodeInfo } from './types.js';

export interface AuthorizeDeps {
  chain: AuthenticatorChain;
  policy: Policy;
}

/** Who is calling and what it may receive; throws UNAUTHENTICATED / PERMISSION_DENIED / INVALID_ARGUMENT. */
export async function authorizeCaller(
  deps: AuthorizeDeps,
  log: Log,
  context: Omit<CallerContext, 'node'>,
  node: NodeInfo | undefined,
): Promise<StreamCaller> {
  const caller = await deps.chain.authenticate({ ...context, ...(node ? { node: { id: node.id, cluster: node.cluster } } : {}) });
  const grant = deps.policy.decide(caller);
  log.debug(
    { authenticator: caller.authenticator, subject: caller.subject, spiffeId: grant.spiffeId, rule: grant.rule, nodeId: node?.id },
    'sds: caller authorized',
  );
  // Whose keys: an authenticator's instance names are its own (a pod UID is not a socket path).
  const instance = JSON.stringify([caller.authenticator, caller.instance]);
  return {
    grant,
    instance,
    ...(node ? { node } : {}),
    ...(caller.lineageStartMs === undefined ? {} : { lineageStartMs: caller.lineageStartMs }),
    ...(caller.validUntilMs === undefined ? {} : { validUntilMs: caller.validUntilMs }),
  };
}

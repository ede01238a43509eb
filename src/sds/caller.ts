import type { AuthenticatorChain } from '../identity/chain.js';
import type { CallerContext, Policy } from '../identity/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { StreamCaller } from './source.js';
import type { NodeInfo } from './types.js';

export interface AuthorizeDeps {
  chain: AuthenticatorChain;
  policy: Policy;
  logger: Logger;
}

/** Who is calling and what it may receive; throws UNAUTHENTICATED / PERMISSION_DENIED / INVALID_ARGUMENT. */
export async function authorizeCaller(
  deps: AuthorizeDeps,
  context: Omit<CallerContext, 'node'>,
  node: NodeInfo | undefined,
): Promise<StreamCaller> {
  const caller = await deps.chain.authenticate({ ...context, ...(node ? { node: { id: node.id, cluster: node.cluster } } : {}) });
  const grant = deps.policy.decide(caller);
  deps.logger.debug(
    { authenticator: caller.authenticator, subject: caller.subject, spiffeId: grant.spiffeId, rule: grant.rule, nodeId: node?.id },
    'sds: caller authorized',
  );
  return node ? { grant, node } : { grant };
}

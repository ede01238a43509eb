import type { AuthenticatorChain } from '../identity/chain.js';
import type { CallerContext, Policy } from '../identity/types.js';
import type { StreamCaller } from './source.js';
import type { Log } from './stream-log.js';
import type { DecisionLog } from './decision-log.js';
import { isWcaError } from '../errors.js';
import type { NodeInfo } from './types.js';

export interface AuthorizeDeps {
  chain: AuthenticatorChain;
  policy: Policy;
  decisions: DecisionLog;
}

/** Who is calling and what it may receive; throws UNAUTHENTICATED / PERMISSION_DENIED / INVALID_ARGUMENT. */
export async function authorizeCaller(
  deps: AuthorizeDeps,
  log: Log,
  context: Omit<CallerContext, 'node'>,
  node: NodeInfo | undefined,
): Promise<StreamCaller> {
  let caller;
  let grant;
  try {
    caller = await deps.chain.authenticate({ ...context, ...(node ? { node: { id: node.id, cluster: node.cluster } } : {}) });
    grant = deps.policy.decide(caller);
  } catch (err) {
    deps.decisions.denied(log, { authenticator: caller?.authenticator, subject: caller?.subject, code: isWcaError(err) ? err.code : 'ERR_INTERNAL' });
    throw err;
  }
  deps.decisions.granted(log, { authenticator: caller.authenticator, subject: caller.subject, spiffeId: grant.spiffeId, rule: grant.rule });
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

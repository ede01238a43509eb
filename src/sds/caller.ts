import { createHmac, randomBytes } from 'node:crypto';
import type { AuthenticatorChain } from '../identity/chain.js';
import type { Caller, CallerContext, Policy } from '../identity/types.js';
import { LINEAGE_ID_LENGTH } from '../x509/leaf.js';
import type { StreamCaller } from './source.js';
import type { Log } from './stream-log.js';
import type { NodeInfo } from './types.js';

/** Keys lineage ids of this process: they name instances without revealing them (a pod UID) in certificates. */
const lineageKey = randomBytes(32);

/**
 * The lineage a first credential starts: the same for every stream of one instance
 * (an authenticator's instance names are its own: a pod UID is not a socket path),
 * so all certificates it gets, and everything renewed from them, count as it.
 */
function lineageIdOf(caller: Caller): Buffer {
  return createHmac('sha256', lineageKey).update(JSON.stringify([caller.authenticator, caller.instance])).digest().subarray(0, LINEAGE_ID_LENGTH);
}

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
  const lineageId = caller.lineageId ?? lineageIdOf(caller);
  return {
    grant,
    // Whose keys: the lineage, which mTLS renewals carry on from the first
    // credential, so they share its cache entries and per-instance limit.
    instance: `lineage:${Buffer.from(lineageId).toString('base64url')}`,
    lineageId,
    ...(node ? { node } : {}),
    ...(caller.lineageStartMs === undefined ? {} : { lineageStartMs: caller.lineageStartMs }),
    ...(caller.validUntilMs === undefined ? {} : { validUntilMs: caller.validUntilMs }),
  };
}

import { createHmac, randomBytes } from 'node:crypto';
import type { AuthenticatorChain } from '../identity/chain.js';
import type { Caller, CallerContext, Policy } from '../identity/types.js';
import { LINEAGE_ID_LENGTH } from '../x509/leaf.js';
import type { StreamCaller } from './source.js';
import type { Log } from './stream-log.js';
import type { DecisionLog } from './decision-log.js';
import type { NodeInfo } from './types.js';
import { isWcaError, publicMessageOf } from '../errors.js';
import type { Auditor } from '../audit/log.js';

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
  decisions: DecisionLog;
  /** Denials and join-token uses are recorded here. */
  audit?: Auditor;
}

/** Who is calling and what it may receive; throws UNAUTHENTICATED / PERMISSION_DENIED / INVALID_ARGUMENT. */
export async function authorizeCaller(
  deps: AuthorizeDeps,
  log: Log,
  context: Omit<CallerContext, 'node'>,
  node: NodeInfo | undefined,
): Promise<StreamCaller> {
  let subject = context.peerAddress;
  let authenticator: string | undefined;
  try {
    const caller = await deps.chain.authenticate({ ...context, ...(node ? { node: { id: node.id, cluster: node.cluster } } : {}) });
    subject = caller.subject;
    authenticator = caller.authenticator;
    const grant = deps.policy.decide(caller);
    deps.decisions.granted(log, { authenticator, subject, spiffeId: grant.spiffeId, rule: grant.rule });
    if (caller.authenticator === 'join-token') {
      deps.audit?.record({ type: 'join-token', action: 'used', tokenId: String(caller.claims.tokenId), spiffeId: grant.spiffeId, claimant: context.peerAddress });
    }
    const lineageId = caller.lineageId ?? lineageIdOf(caller);
    return {
      grant,
      // Whose keys: the lineage, which mTLS renewals carry on from the first
      // credential, so they share its cache entries and per-instance limit.
      instance: `lineage:${Buffer.from(lineageId).toString('base64url')}`,
      lineageId,
      authenticator: caller.authenticator,
      ...(node ? { node } : {}),
      ...(caller.lineageStartMs === undefined ? {} : { lineageStartMs: caller.lineageStartMs }),
      ...(caller.validUntilMs === undefined ? {} : { validUntilMs: caller.validUntilMs }),
    };
  } catch (err) {
    deps.decisions.denied(log, { authenticator, subject: subject.slice(0, 256), code: isWcaError(err) ? err.code : 'ERR_INTERNAL' });
    if (isWcaError(err)) {
      const who = `${subject.slice(0, 256)}${node ? ` node=${node.id.slice(0, 128)}` : ''}`;
      deps.audit?.record({ type: 'denial', who, what: 'sds stream', why: publicMessageOf(err), code: err.code });
    }
    throw err;
  }
}

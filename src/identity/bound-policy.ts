import { WcaError, isWcaError } from '../errors.js';
import { parseSpiffeIdIn } from '../spiffe/id.js';
import type { Caller, Grant, Policy } from './types.js';

export interface BoundPolicyOptions {
  trustDomain: string;
  maxTtlSeconds: number;
}

/**
 * Grants exactly the SPIFFE ID the caller's credential is bound to (unix socket,
 * insecure-dev node.id, an existing SVID), if it is a workload ID in our trust
 * domain. No DNS names: those need a rule that says why.
 */
export class BoundPolicy implements Policy {
  constructor(private readonly options: BoundPolicyOptions) {
    if (!(options.maxTtlSeconds > 0)) throw new WcaError('ERR_CONFIG_INVALID', 'bound policy: maxTtlSeconds must be positive');
  }

  decide(caller: Caller): Grant {
    const deny = (why: string, cause?: unknown): never => {
      throw new WcaError('ERR_PERMISSION_DENIED', `caller "${caller.subject}" (${caller.authenticator}) is denied: ${why}`, {
        cause,
        details: { authenticator: caller.authenticator },
      });
    };
    if (!caller.boundSpiffeId) return deny('its credential is not bound to a SPIFFE ID');
    let id;
    try {
      id = parseSpiffeIdIn(caller.boundSpiffeId, this.options.trustDomain);
    } catch (err) {
      if (!isWcaError(err)) throw err;
      return deny(err.message, err);
    }
    if (id.path === '') return deny(`${id.uri} is a trust domain ID, not a workload ID`);
    return {
      spiffeId: id.uri,
      dnsNames: [],
      maxTtlSeconds: this.options.maxTtlSeconds,
      rule: 'bound',
      reason: `credential bound to ${id.uri} by ${caller.authenticator}`,
    };
  }
}

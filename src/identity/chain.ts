import { WcaError } from '../errors.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Authenticator, Caller, CallerContext } from './types.js';

/**
 * Runs authenticators in order. The first whose credential is present decides:
 * a present-but-invalid credential is a denial (its error propagates), never a
 * fall-through to a later, possibly weaker authenticator. No credential at all is
 * UNAUTHENTICATED: deny by default.
 */
export class AuthenticatorChain {
  private readonly authenticators: readonly Authenticator[];

  constructor(
    authenticators: readonly Authenticator[],
    private readonly metrics?: Metrics,
  ) {
    if (authenticators.length === 0) throw new WcaError('ERR_CONFIG_INVALID', 'at least one authenticator must be configured');
    this.authenticators = [...authenticators];
  }

  get names(): string[] {
    return this.authenticators.map((a) => a.name);
  }

  async authenticate(context: CallerContext): Promise<Caller> {
    for (const authenticator of this.authenticators) {
      let caller: Caller | null;
      try {
        caller = await authenticator.authenticate(context);
      } catch (err) {
        this.metrics?.authDecisions.inc({ authenticator: authenticator.name, decision: 'invalid' });
        throw err;
      }
      if (caller) {
        this.metrics?.authDecisions.inc({ authenticator: authenticator.name, decision: 'authenticated' });
        return caller;
      }
    }
    this.metrics?.authDecisions.inc({ authenticator: 'none', decision: 'absent' });
    throw new WcaError('ERR_UNAUTHENTICATED', `no credential recognised (tried: ${this.names.join(', ')})`);
  }
}

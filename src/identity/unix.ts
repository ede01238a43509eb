import { WcaError } from '../errors.js';
import { parseSpiffeId } from '../spiffe/id.js';
import type { Authenticator, Caller, CallerContext } from './types.js';

export interface UnixAuthenticatorOptions {
  /** The one SPIFFE ID this socket serves (a sidecar deployment: one workload per socket). */
  spiffeId: string;
}

/**
 * Anyone who can connect to the Unix socket is the configured workload: the
 * socket's file mode (0600/0660, set by the transport) is the access control.
 * Calls that did not arrive over a Unix socket are not this authenticator's.
 */
export class UnixAuthenticator implements Authenticator {
  readonly name = 'unix';
  private readonly spiffeId: string;

  constructor(options: UnixAuthenticatorOptions) {
    try {
      this.spiffeId = parseSpiffeId(options.spiffeId).uri;
    } catch (err) {
      throw new WcaError('ERR_CONFIG_INVALID', `identity.unix.spiffeId: ${(err as Error).message}`, { cause: err });
    }
  }

  async authenticate(context: CallerContext): Promise<Caller | null> {
    if (context.transport !== 'unix') return null;
    return {
      authenticator: this.name,
      subject: `unix:${context.peerAddress}`,
      claims: { socket: context.peerAddress },
      boundSpiffeId: this.spiffeId,
      // One workload per socket by configuration (Node exposes no peer uid/pid to tell callers apart).
      instance: `socket:${context.peerAddress}`,
    };
  }
}

import type { Authenticator, Caller, CallerContext } from '../types.js';
import { readBearer } from '../jwt/bearer.js';
import type { JoinTokenStore } from './store.js';

/**
 * `authorization: Bearer wcajt_…`: a machine's first contact. The token is spent
 * here, so the stream that presented it is the only one it ever opens; the
 * machine renews over mtls with the SVID it received.
 */
export class JoinTokenAuthenticator implements Authenticator {
  readonly name = 'join-token';

  constructor(private readonly store: JoinTokenStore) {}

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const bearer = readBearer(context.metadata);
    if (bearer === null || bearer.kind !== 'join-token') return null;
    const grant = this.store.consume(bearer.token);
    return {
      authenticator: this.name,
      subject: `join-token:${grant.id}`,
      claims: Object.freeze({ tokenId: grant.id, dnsNames: grant.dnsNames }),
      boundSpiffeId: grant.spiffeId,
    };
  }
}

import type { Authenticator, Caller, CallerContext } from '../types.js';
import { readBearer } from '../jwt/bearer.js';
import type { JoinTokenStore } from './store.js';

/**
 * `authorization: Bearer wcajt_…`: a machine's first contact. The token is spent
 * here (the same machine may open its other first streams within the store's
 * reuse window); afterwards the machine renews over mtls with the SVID it received.
 */
export class JoinTokenAuthenticator implements Authenticator {
  readonly name = 'join-token';

  constructor(private readonly store: JoinTokenStore) {}

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const bearer = readBearer(context.metadata);
    if (bearer === null || bearer.kind !== 'join-token') return null;
    const grant = this.store.consume(bearer.token, claimantOf(context));
    return {
      authenticator: this.name,
      subject: `join-token:${grant.id}`,
      claims: Object.freeze({ tokenId: grant.id, dnsNames: grant.dnsNames }),
      boundSpiffeId: grant.spiffeId,
      // The token's id: only the machine that spent it (within the reuse window) holds it.
      instance: `join-token:${grant.id}`,
    };
  }
}

/** Peer host without the port, plus the Envoy node id: what "the same machine" means. */
function claimantOf(context: CallerContext): string {
  const address = context.peerAddress;
  const host = context.transport === 'unix' ? address : address.replace(/:\d+$/, '');
  return `${host}|${context.node?.id ?? ''}`;
}

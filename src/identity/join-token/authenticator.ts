import type { Authenticator, Caller, CallerContext } from '../types.js';
import { readBearer } from '../jwt/bearer.js';
import type { JoinTokenStore } from './store.js';

/**
 * `authorization: Bearer wcajt_…`: a machine's first contact. The token is spent
 * here (the same Envoy may open its other first streams on the same connection
 * within the store's reuse window); afterwards the machine renews over mtls with the SVID it received.
 */
export class JoinTokenAuthenticator implements Authenticator {
  readonly name = 'join-token';

  constructor(private readonly store: JoinTokenStore) {}

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const bearer = readBearer(context.metadata);
    if (bearer === null || bearer.kind !== 'join-token') return null;
    const grant = await this.store.consume(bearer.token, claimantOf(context));
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

/**
 * The connection and the exact Envoy node (id and cluster): what "the same Envoy"
 * means. Envoy's SDS streams share one HTTP/2 connection, so binding reuse to it
 * keeps a neighbour on the same host (or behind the same NAT) that copies the
 * node.id from getting the key, and one spent token from naming many nodes.
 */
function claimantOf(context: CallerContext): string {
  return JSON.stringify([context.connection ?? context.peerAddress, context.node?.id ?? '', context.node?.cluster ?? '']);
}

import { WcaError, isWcaError } from '../errors.js';
import { isLoopback, formatListenAddress, type ListenAddress } from '../net/listen-address.js';
import { parseSpiffeIdIn } from '../spiffe/id.js';
import { refuseReserved } from '../spiffe/reserved.js';
import type { Logger } from '../telemetry/logger.js';
import type { Authenticator, Caller, CallerContext } from './types.js';

export interface InsecureDevOptions {
  profile: 'dev' | 'production';
  trustDomain: string;
  /** Where SDS listens; must be loopback or a Unix socket. */
  listen: ListenAddress;
  logger: Logger;
}

/**
 * Maps an Envoy node.id to the SPIFFE ID it receives, with NO proof of anything:
 *   "spiffe://<td>/a/b"  → that ID (must be in our trust domain)
 *   "ns/shop/sa/cart"    → spiffe://<td>/ns/shop/sa/cart (a leading "/" is allowed)
 * A node.id that is neither is INVALID_ARGUMENT.
 */
export function spiffeIdForNodeId(nodeId: string, trustDomain: string): string {
  const uri = nodeId.startsWith('spiffe://') ? nodeId : `spiffe://${trustDomain}/${nodeId.replace(/^\//, '')}`;
  let spiffeId: string;
  try {
    spiffeId = parseSpiffeIdIn(uri, trustDomain).uri;
  } catch (err) {
    // Keep the code: a malformed ID is INVALID_ARGUMENT, a foreign trust domain PERMISSION_DENIED.
    const code = isWcaError(err) ? err.code : 'ERR_SPIFFE_ID_INVALID';
    throw new WcaError(code, `insecure-dev: node.id does not name a SPIFFE ID here: ${(err as Error).message}`, { cause: err });
  }
  // Refused here, before any stream waits for a certificate the CA would never sign.
  refuseReserved(spiffeId, trustDomain, 'insecure-dev: node.id');
  return spiffeId;
}

// grpc-js reports peers as "127.0.0.1:port", "::1:port" or "[::1]:port".
const loopbackPeer = /^(127\.|::ffff:127\.|\[::1\]|::1(:\d+)?$)/;

/**
 * Development only: whoever reaches the loopback SDS port gets the SPIFFE ID its
 * node.id names. Refuses to exist outside the dev profile or off loopback.
 */
export class InsecureDevAuthenticator implements Authenticator {
  readonly name = 'insecure-dev';

  constructor(private readonly options: InsecureDevOptions) {
    if (options.profile !== 'dev') {
      throw new WcaError('ERR_CONFIG_INVALID', 'the insecure-dev authenticator is allowed only with profile: dev');
    }
    if (!isLoopback(options.listen)) {
      throw new WcaError(
        'ERR_CONFIG_INVALID',
        `the insecure-dev authenticator is allowed only on loopback or a Unix socket, not ${formatListenAddress(options.listen)}`,
      );
    }
    options.logger.warn(
      { authenticator: this.name, listen: formatListenAddress(options.listen) },
      'INSECURE: SDS hands any local caller the SPIFFE ID its Envoy node.id names. Never use this outside development.',
    );
  }

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const nodeId = context.node?.id;
    if (!nodeId) return null;
    if (context.transport !== 'unix' && !loopbackPeer.test(context.peerAddress)) {
      throw new WcaError('ERR_UNAUTHENTICATED', 'insecure-dev: only loopback callers are accepted');
    }
    const spiffeId = spiffeIdForNodeId(nodeId, this.options.trustDomain);
    return {
      authenticator: this.name,
      subject: nodeId,
      claims: { nodeId, cluster: context.node?.cluster ?? '' },
      boundSpiffeId: spiffeId,
      // Nothing is proven: the node.id is all there is.
      instance: `node:${nodeId}`,
    };
  }
}

import { WcaError, type ReasonOf } from '../errors.js';
import { checkValidity, leafSpiffeId, parse } from '../identity/mtls.js';
import type { PresentedChain } from '../identity/types.js';

/** Who called the admin API over TCP, as the audit log names them, and why they were refused (if they were). */
export interface AdminCaller {
  caller: string;
  refusal?: WcaError;
}

/**
 * The admin caller behind a TLS connection: the SPIFFE ID of a client certificate
 * that OpenSSL validated against admin.tcp.tls.clientCaFile during the handshake
 * (RFC 5280 with the TLS client purpose, so a server-auth-only certificate fails
 * with INVALID_PURPOSE), and only when the allow-list names it. This reads the
 * verdict; it never walks a chain itself. Validity is checked again with `now`
 * because a connection outlives the handshake.
 */
export function adminTcpCaller(peer: string, chain: PresentedChain | undefined, allow: ReadonlySet<string>, now: number): AdminCaller {
  const unverified = `tls:${peer}`;
  if (chain === undefined) {
    return { caller: unverified, refusal: unauthenticated('the admin API over TCP needs a client certificate (mutual TLS)', 'no-client-certificate') };
  }
  if (chain.verifyError !== null) {
    return {
      caller: unverified,
      refusal: unauthenticated(`client certificate refused by path validation against the admin client CA (OpenSSL: ${chain.verifyError})`, 'chain-invalid', {
        openssl: chain.verifyError,
      }),
    };
  }
  let spiffeId: string;
  try {
    const leaf = parse(chain.certificates[0]!);
    spiffeId = leafSpiffeId(leaf).uri;
    // OpenSSL accepts a CA certificate as a client's end entity; an admin identity is a leaf, as an SVID is for SDS.
    if (leaf.ca) return { caller: unverified, refusal: unauthenticated(`client certificate for ${spiffeId} is a CA certificate, not an admin client certificate`, 'leaf-is-ca') };
    checkValidity(leaf, now, `client certificate ${spiffeId}`);
  } catch (err) {
    return { caller: unverified, refusal: err as WcaError };
  }
  if (!allow.has(spiffeId)) {
    return {
      caller: spiffeId,
      refusal: new WcaError('ERR_PERMISSION_DENIED', `${spiffeId} is not in the admin allow-list (admin.tcp.allow)`, { details: { reason: 'not-allowed' } }),
    };
  }
  return { caller: spiffeId };
}

const unauthenticated = (message: string, reason: ReasonOf<'ERR_UNAUTHENTICATED'>, extra: Record<string, unknown> = {}) =>
  new WcaError('ERR_UNAUTHENTICATED', message, { details: { reason, ...extra } });

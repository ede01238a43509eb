import { WcaError, type ReasonOf } from '../errors.js';

/**
 * SPIFFE IDs in our trust domain that no workload may ever receive: the trust
 * domain's own ID (it names the domain, and as an SDS resource name it is the
 * bundle) and the identity the SDS listener presents to Envoys (whoever held it
 * could impersonate this server to every workload).
 */
export type ReservedIdentity = ReasonOf<'ERR_SPIFFE_ID_RESERVED'>;

/** The SVID the SDS TLS listener presents. */
export function sdsServerSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/workload-ca/sds`;
}

/** Why a (parsed, normalised) SPIFFE ID of `trustDomain` is reserved, or undefined. */
export function reservedIdentity(uri: string, trustDomain: string): ReservedIdentity | undefined {
  if (uri === `spiffe://${trustDomain}`) return 'trust-domain-id';
  if (uri === sdsServerSpiffeId(trustDomain)) return 'sds-server';
  return undefined;
}

const explanations: Record<ReservedIdentity, string> = {
  'trust-domain-id': "is the trust domain's own ID, not a workload's",
  'sds-server': "is this server's own SDS identity",
};

/** Throws ERR_SPIFFE_ID_RESERVED (`details.reason` says which) when `uri` is reserved. `who` says who asked for it. */
export function refuseReserved(uri: string, trustDomain: string, who: string): void {
  const reason = reservedIdentity(uri, trustDomain);
  if (reason === undefined) return;
  throw new WcaError('ERR_SPIFFE_ID_RESERVED', `${who}: ${uri} ${explanations[reason]} and is never issued to a workload`, {
    details: { reason, spiffeId: uri },
  });
}

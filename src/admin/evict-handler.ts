import { z } from 'zod';
import { WcaError } from '../errors.js';
import type { EvictionList } from '../identity/evictions.js';
import { limits } from '../limits.js';
import { parseSpiffeIdIn } from '../spiffe/id.js';
import type { Logger } from '../telemetry/logger.js';
import type { EvictIdentityRequest, EvictIdentityResponse } from './proto.js';

/** What EvictIdentity acts on: the mtls authenticator's eviction list and the SDS streams. */
export interface IdentityEviction {
  trustDomain: string;
  evictions: EvictionList;
  /** Ends the open SDS streams of a SPIFFE ID with this error; returns how many. */
  endStreams(spiffeId: string, err: WcaError): number;
}

const request = z.object({ spiffe_id: z.string().min(1, 'is required').max(limits.spiffeIdMaxBytes) });

/** EvictIdentity: validate, record, end the identity's streams, audit-log. */
export function evictIdentity(target: IdentityEviction, logger: Logger, raw: EvictIdentityRequest): EvictIdentityResponse {
  const parsed = request.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
    throw new WcaError('ERR_USAGE', `invalid EvictIdentity request: ${problems}`);
  }
  const spiffeId = parseSpiffeIdIn(parsed.data.spiffe_id, target.trustDomain).uri;
  const eviction = target.evictions.evict(spiffeId);
  const evictedAt = new Date(eviction.evictedAtMs).toISOString();
  const ended = target.endStreams(
    spiffeId,
    new WcaError('ERR_IDENTITY_EVICTED', `${spiffeId} was evicted at ${evictedAt}; present the original credential (join token, JWT) again`, {
      details: { reason: 'evicted' },
    }),
  );
  const expiresAt = new Date(eviction.expiresAtMs).toISOString();
  logger.warn({ spiffeId, evictedAt, expiresAt, streamsEnded: ended }, 'identity evicted');
  return { spiffe_id: spiffeId, evicted_at: evictedAt, expires_at: expiresAt, streams_ended: ended };
}

import { z } from 'zod';
import { WcaError } from '../errors.js';
import { limits } from '../limits.js';
import type { JoinTokenStore } from '../identity/join-token/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { CreateJoinTokenRequest, CreateJoinTokenResponse } from './proto.js';

const request = z.object({
  spiffe_id: z.string().min(1, 'is required').max(limits.spiffeIdMaxBytes),
  dns_names: z.array(z.string().max(limits.dnsNameMaxLength)).max(limits.dnsNamesPerCert),
  ttl_seconds: z.number().int().min(1, 'is required (at least 1 second)'),
});

/** CreateJoinToken: validate, mint, audit-log the token id (never the token). */
export async function createJoinToken(store: JoinTokenStore, logger: Logger, raw: CreateJoinTokenRequest): Promise<CreateJoinTokenResponse> {
  const parsed = request.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
    throw new WcaError('ERR_USAGE', `invalid CreateJoinToken request: ${problems}`);
  }
  const created = await store.create({
    spiffeId: parsed.data.spiffe_id,
    dnsNames: parsed.data.dns_names,
    ttlSeconds: parsed.data.ttl_seconds,
  });
  logger.info(
    { tokenId: created.id, spiffeId: created.spiffeId, dnsNames: created.dnsNames, expiresAt: created.expiresAt.toISOString() },
    'join token created',
  );
  return {
    token: created.token,
    token_id: created.id,
    spiffe_id: created.spiffeId,
    dns_names: [...created.dnsNames],
    expires_at: created.expiresAt.toISOString(),
  };
}

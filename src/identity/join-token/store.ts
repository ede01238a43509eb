import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { WcaError } from '../../errors.js';
import { limits } from '../../limits.js';
import { parseSpiffeIdIn } from '../../spiffe/id.js';
import { refuseReserved } from '../../spiffe/reserved.js';
import { parseDnsNames } from '../../spiffe/dns.js';
import { JOIN_TOKEN_PREFIX } from '../jwt/bearer.js';
import type { JoinTokenGrant, JoinTokenRecords } from '../../state/types.js';
import { MemoryJoinTokens } from '../../state/memory.js';

export interface JoinTokenRequest {
  spiffeId: string;
  dnsNames?: readonly string[];
  ttlSeconds: number;
}

export interface CreatedJoinToken {
  /** The secret: shown once to the operator, never stored. */
  token: string;
  /** Non-secret handle for audit logs. */
  id: string;
  spiffeId: string;
  dnsNames: readonly string[];
  expiresAt: Date;
}

export type { JoinTokenGrant } from '../../state/types.js';

export interface JoinTokenStoreOptions {
  /** Longest token lifetime accepted by create(); capped by limits.joinTokenMaxTtlSeconds. */
  maxTtlSeconds?: number;
  /**
   * After first use, the same claimant (the connection and exact Envoy node that
   * spent it) may present the token again for this long: outside ADS an Envoy
   * opens one SDS stream per secret (`default`, `ROOTCA`) on one connection, each
   * carrying the same token. 0 = strictly once.
   */
  reuseWindowSeconds?: number;
  /** Where hashes and their use are kept: the state store's (shared by replicas); default this process's memory. */
  records?: JoinTokenRecords;
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * One-time join tokens, kept only as SHA-256 hashes (in the state store): a heap
 * dump, a log line or a database row never yields a usable token. 32 random bytes
 * make brute force and slow hashing moot. The store spends a token in one atomic
 * step, so of concurrent claimants (on any replica) exactly one wins.
 */
export class JoinTokenStore {
  private readonly maxTtlSeconds: number;
  private readonly reuseWindowMs: number;
  private readonly records: JoinTokenRecords;

  constructor(
    private readonly trustDomain: string,
    private readonly clock: Clock,
    options: JoinTokenStoreOptions = {},
  ) {
    this.records = options.records ?? new MemoryJoinTokens(clock);
    this.maxTtlSeconds = Math.min(options.maxTtlSeconds ?? limits.joinTokenMaxTtlSeconds, limits.joinTokenMaxTtlSeconds);
    this.reuseWindowMs = (options.reuseWindowSeconds ?? 0) * 1000;
  }

  async create(request: JoinTokenRequest): Promise<CreatedJoinToken> {
    const spiffeId = parseSpiffeIdIn(request.spiffeId, this.trustDomain).uri;
    refuseReserved(spiffeId, this.trustDomain, 'join token');
    const dnsNames = parseDnsNames(request.dnsNames);
    const maxTtl = this.maxTtlSeconds;
    if (!Number.isFinite(request.ttlSeconds) || request.ttlSeconds < 1 || request.ttlSeconds > maxTtl) {
      throw new WcaError('ERR_TTL_INVALID', `join token TTL must be between 1 s and ${maxTtl} s, got ${request.ttlSeconds}`);
    }
    const token = `${JOIN_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const hash = sha256(token);
    const id = hash.slice(0, 16);
    const expiresAtMs = this.clock.now() + Math.round(request.ttlSeconds * 1000);
    if (!(await this.records.put({ hash, id, spiffeId, dnsNames, expiresAtMs }, limits.joinTokensMax))) {
      throw new WcaError('ERR_JOIN_TOKEN_LIMIT', `too many outstanding join tokens (limit ${limits.joinTokensMax})`);
    }
    return { token, id, spiffeId, dnsNames, expiresAt: new Date(expiresAtMs) };
  }

  /**
   * Spends the token for `claimant` (who presents it: connection and Envoy node) and
   * returns its grant; the same claimant may repeat within the reuse window.
   * A refused token throws ERR_UNAUTHENTICATED; an unreachable shared store
   * ERR_STATE_STORE_UNAVAILABLE.
   */
  async consume(token: string, claimant: string): Promise<JoinTokenGrant> {
    const result = await this.records.consume(sha256(token), claimant, this.reuseWindowMs);
    switch (result.outcome) {
      case 'granted':
        return result.grant;
      case 'unknown':
        throw new WcaError('ERR_UNAUTHENTICATED', 'join token is unknown', { details: { reason: 'unknown' } });
      case 'used':
        throw new WcaError('ERR_UNAUTHENTICATED', `join token ${result.id} was already used`, { details: { reason: 'used', tokenId: result.id } });
      case 'expired':
        throw new WcaError('ERR_UNAUTHENTICATED', `join token ${result.id} expired at ${new Date(result.expiresAtMs).toISOString()}`, {
          details: { reason: 'expired', tokenId: result.id },
        });
    }
  }

  /** Tokens not used yet. */
  outstanding(): Promise<number> {
    return this.records.outstanding();
  }
}

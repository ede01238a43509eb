import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { WcaError } from '../../errors.js';
import { limits } from '../../limits.js';
import { parseSpiffeIdIn } from '../../spiffe/id.js';
import { refuseReserved } from '../../spiffe/reserved.js';
import { parseDnsNames } from '../../spiffe/dns.js';
import { JOIN_TOKEN_PREFIX } from '../jwt/bearer.js';

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

export interface JoinTokenGrant {
  id: string;
  spiffeId: string;
  dnsNames: readonly string[];
}

interface Entry extends JoinTokenGrant {
  expiresAtMs: number;
  /** Set once used: the same machine may present it again until `untilMs`. */
  spent?: { claimant: string; untilMs: number };
}

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
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * One-time join tokens, kept only as SHA-256 hashes in memory: a heap dump or a
 * log line never yields a usable token. 32 random bytes make brute force and
 * slow hashing moot. The first use is synchronous (check and mark in one step),
 * so of two concurrent claimants exactly one wins; the other is refused.
 */
export class JoinTokenStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxTtlSeconds: number;
  private readonly reuseWindowMs: number;

  constructor(
    private readonly trustDomain: string,
    private readonly clock: Clock,
    options: JoinTokenStoreOptions = {},
  ) {
    this.maxTtlSeconds = Math.min(options.maxTtlSeconds ?? limits.joinTokenMaxTtlSeconds, limits.joinTokenMaxTtlSeconds);
    this.reuseWindowMs = (options.reuseWindowSeconds ?? 0) * 1000;
  }

  create(request: JoinTokenRequest): CreatedJoinToken {
    const spiffeId = parseSpiffeIdIn(request.spiffeId, this.trustDomain).uri;
    refuseReserved(spiffeId, this.trustDomain, 'join token');
    const dnsNames = parseDnsNames(request.dnsNames);
    const maxTtl = this.maxTtlSeconds;
    if (!Number.isFinite(request.ttlSeconds) || request.ttlSeconds < 1 || request.ttlSeconds > maxTtl) {
      throw new WcaError('ERR_TTL_INVALID', `join token TTL must be between 1 s and ${maxTtl} s, got ${request.ttlSeconds}`);
    }
    this.prune();
    if (this.entries.size >= limits.joinTokensMax) {
      throw new WcaError('ERR_JOIN_TOKEN_LIMIT', `too many outstanding join tokens (limit ${limits.joinTokensMax})`);
    }
    const token = `${JOIN_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const hash = sha256(token);
    const id = hash.slice(0, 16);
    const expiresAtMs = this.clock.now() + Math.round(request.ttlSeconds * 1000);
    this.entries.set(hash, { id, spiffeId, dnsNames, expiresAtMs });
    return { token, id, spiffeId, dnsNames, expiresAt: new Date(expiresAtMs) };
  }

  /**
   * Spends the token for `claimant` (who presents it: connection and Envoy node) and
   * returns its grant; the same claimant may repeat within the reuse window.
   * Anything else throws ERR_UNAUTHENTICATED.
   */
  consume(token: string, claimant: string): JoinTokenGrant {
    const hash = sha256(token);
    const entry = this.entries.get(hash);
    const now = this.clock.now();
    if (entry === undefined) {
      throw new WcaError('ERR_UNAUTHENTICATED', 'join token is unknown', { details: { reason: 'unknown' } });
    }
    const grant = { id: entry.id, spiffeId: entry.spiffeId, dnsNames: entry.dnsNames };
    if (entry.spent) {
      if (entry.spent.claimant === claimant && now < entry.spent.untilMs) return grant;
      throw new WcaError('ERR_UNAUTHENTICATED', `join token ${entry.id} was already used`, { details: { reason: 'used', tokenId: entry.id } });
    }
    if (now > entry.expiresAtMs) {
      this.entries.delete(hash);
      throw new WcaError('ERR_UNAUTHENTICATED', `join token ${entry.id} expired at ${new Date(entry.expiresAtMs).toISOString()}`, {
        details: { reason: 'expired', tokenId: entry.id },
      });
    }
    entry.spent = { claimant, untilMs: now + this.reuseWindowMs };
    return grant;
  }

  /** Tokens not used yet. */
  get outstanding(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (!entry.spent) count++;
    return count;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [hash, entry] of this.entries) {
      if (now > (entry.spent ? entry.spent.untilMs : entry.expiresAtMs)) this.entries.delete(hash);
    }
  }
}

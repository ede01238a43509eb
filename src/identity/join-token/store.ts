import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { WcaError } from '../../errors.js';
import { limits } from '../../limits.js';
import { parseSpiffeIdIn } from '../../spiffe/id.js';
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
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * One-time join tokens, kept only as SHA-256 hashes in memory: a heap dump or a
 * log line never yields a usable token. 32 random bytes make brute force and
 * slow hashing moot. Consuming is a synchronous delete, so two concurrent callers
 * can never both spend one token.
 */
export class JoinTokenStore {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly trustDomain: string,
    private readonly clock: Clock,
    private readonly maxTtlSeconds: number = limits.joinTokenMaxTtlSeconds,
  ) {}

  create(request: JoinTokenRequest): CreatedJoinToken {
    const spiffeId = parseSpiffeIdIn(request.spiffeId, this.trustDomain).uri;
    const dnsNames = parseDnsNames(request.dnsNames);
    const maxTtl = Math.min(this.maxTtlSeconds, limits.joinTokenMaxTtlSeconds);
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

  /** Spends the token: returns its grant exactly once, or throws ERR_UNAUTHENTICATED. */
  consume(token: string): JoinTokenGrant {
    const hash = sha256(token);
    const entry = this.entries.get(hash);
    this.entries.delete(hash);
    if (entry === undefined) {
      throw new WcaError('ERR_UNAUTHENTICATED', 'join token is unknown or was already used', { details: { reason: 'unknown-or-used' } });
    }
    if (this.clock.now() > entry.expiresAtMs) {
      throw new WcaError('ERR_UNAUTHENTICATED', `join token ${entry.id} expired at ${new Date(entry.expiresAtMs).toISOString()}`, {
        details: { reason: 'expired', tokenId: entry.id },
      });
    }
    return { id: entry.id, spiffeId: entry.spiffeId, dnsNames: entry.dnsNames };
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [hash, entry] of this.entries) if (now > entry.expiresAtMs) this.entries.delete(hash);
  }
}

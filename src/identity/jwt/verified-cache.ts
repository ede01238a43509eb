import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';

interface Entry {
  payload: JWTPayload;
  /** JwksCache generation the signature was checked against. */
  generation: number;
}

/**
 * Tokens whose signature, issuer and audience were already verified, keyed by
 * SHA-256 of the token (never the token itself). An Envoy re-sends the same token
 * on every stream, so this saves the signature check on reconnects; time claims
 * are still checked on every hit, and a new key set invalidates everything.
 * Bounded: the oldest entry goes first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(key: string, generation: number, nowSeconds: number, skewSeconds: number): JWTPayload | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.generation !== generation || !timeClaimsHold(entry.payload, nowSeconds, skewSeconds)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  set(key: string, payload: JWTPayload, generation: number): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { payload, generation });
  }
}

/** The same exp/nbf rule jose applies (RFC 7519 §4.1.4-5, with tolerance). */
function timeClaimsHold(payload: JWTPayload, now: number, skew: number): boolean {
  if (typeof payload.exp !== 'number' || payload.exp <= now - skew) return false;
  return payload.nbf === undefined || payload.nbf <= now + skew;
}

import { decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../../clock.js';
import { WcaError, type ReasonOf } from '../../errors.js';
import { limits } from '../../limits.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Authenticator, Caller, CallerContext } from '../types.js';
import { readBearer } from './bearer.js';
import type { JwtConfig, JwtIssuerConfig } from './config.js';
import { JwksCache, KeysUnavailable, jwksLoader, type JwksLoader } from './jwks.js';
import { VerifiedTokenCache } from './verified-cache.js';

export interface JwtAuthenticatorOptions {
  config: JwtConfig;
  clock: Clock;
  logger: Logger;
  /** Replaces the configured key source per issuer (tests, benchmarks). */
  loaderFor?: (issuer: JwtIssuerConfig) => JwksLoader;
}

interface Issuer {
  config: JwtIssuerConfig;
  keys: JwksCache;
  verified: VerifiedTokenCache;
}

/**
 * `authorization: Bearer <jwt>` verified locally: signature against the issuer's
 * JWKS, issuer, audience, exp/nbf within a small skew, asymmetric algorithms only.
 * The unverified `iss` only picks which issuer's rules to verify against.
 */
export class JwtAuthenticator implements Authenticator {
  readonly name = 'jwt';
  private readonly issuers: Map<string, Issuer>;

  constructor(private readonly options: JwtAuthenticatorOptions) {
    const loaderFor = options.loaderFor ?? jwksLoader;
    this.issuers = new Map(
      options.config.issuers.map((config) => [
        config.issuer,
        {
          config,
          keys: new JwksCache(loaderFor(config), {
            clock: options.clock,
            logger: options.logger.child({ issuer: config.issuer }),
            maxAgeMs: config.cacheMaxAge * 1000,
            cooldownMs: config.refreshCooldown * 1000,
          }),
          verified: new VerifiedTokenCache(limits.verifiedJwtCacheMax),
        },
      ]),
    );
  }

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const bearer = readBearer(context.metadata);
    if (bearer === null || bearer.kind !== 'jwt') return null;
    const issuer = this.issuerOf(bearer.token);
    const { config } = issuer;
    const now = this.options.clock.now();
    const cacheKey = VerifiedTokenCache.keyOf(bearer.token);
    const generation = issuer.keys.generation(now);
    const known = issuer.verified.get(cacheKey, generation, Math.floor(now / 1000), config.clockSkew);
    if (known) return callerFromClaims(known, config, this.name, cacheKey);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(bearer.token, issuer.keys.resolve, {
        issuer: config.issuer,
        audience: config.audiences,
        algorithms: [...config.algorithms],
        clockTolerance: config.clockSkew,
        currentDate: new Date(now),
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw rejection(err, config.issuer);
    }
    if (generation !== -1) issuer.verified.set(cacheKey, payload, generation);
    return callerFromClaims(payload, config, this.name, cacheKey);
  }

  private issuerOf(token: string): Issuer {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new WcaError('ERR_UNAUTHENTICATED', 'bearer token is not a well-formed JWT', { details: { reason: 'malformed' } });
    }
    const issuer = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
    if (!issuer) {
      const shown = typeof iss === 'string' ? `"${iss.slice(0, 128)}"` : 'missing';
      throw new WcaError('ERR_UNAUTHENTICATED', `JWT issuer ${shown} is not a configured issuer`, {
        details: { reason: 'unknown-issuer', claim: 'iss' },
      });
    }
    return issuer;
  }
}

/**
 * Builds the caller: standard claims plus the issuer's mapped claims. The instance
 * is the issuer's instance claim (a pod UID outlives its hourly token refreshes),
 * else the token itself (`tokenDigest`, a SHA-256 of it).
 */
function callerFromClaims(payload: JWTPayload, config: JwtIssuerConfig, authenticator: string, tokenDigest: string): Caller {
  const claims: Record<string, unknown> = {
    issuer: payload.iss,
    audience: typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []),
  };
  for (const [name, path] of Object.entries(config.claims)) {
    const value = claimAt(payload, path);
    if (typeof value === 'string') claims[name] = value;
  }
  const instance = claimAt(payload, config.instanceClaim);
  return {
    authenticator,
    subject: payload.sub ?? '',
    claims: Object.freeze(claims),
    instance: typeof instance === 'string' && instance !== '' ? JSON.stringify([config.issuer, instance]) : `token:${tokenDigest}`,
  };
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('/')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** jose's verdicts as our own stable reasons (jose's codes are its API, not ours). */
function joseReason(err: errors.JOSEError): ReasonOf<'ERR_UNAUTHENTICATED'> {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) return 'claim-invalid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no-matching-key';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'alg-not-allowed';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed';
  return 'internal';
}

/** Translates jose's verdicts into our error, with jose's (token-free) wording. */
function rejection(err: unknown, issuer: string): WcaError {
  if (err instanceof KeysUnavailable) {
    return new WcaError('ERR_UNAUTHENTICATED', `cannot verify JWT from "${issuer}": ${err.message}`, {
      details: { reason: 'keys-unavailable' },
    });
  }
  if (err instanceof errors.JOSEError) {
    const claim = err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired ? err.claim : undefined;
    const what = err instanceof errors.JWKSNoMatchingKey ? 'no key of the issuer matches the token (unknown kid?)' : err.message;
    return new WcaError('ERR_UNAUTHENTICATED', `JWT from "${issuer}" rejected: ${what}`, {
      details: { reason: joseReason(err), ...(claim === undefined ? {} : { claim }) },
    });
  }
  return new WcaError('ERR_UNAUTHENTICATED', `JWT from "${issuer}" rejected: cannot verify`, { cause: err, details: { reason: 'internal' } });
}

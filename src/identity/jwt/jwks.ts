import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { limits } from '../../limits.js';
import type { Logger } from '../../telemetry/logger.js';
import { httpJson } from './http.js';
import type { JwtIssuerConfig } from './config.js';

/** Loads the issuer's current key set; rejects with a message safe to log. */
export type JwksLoader = () => Promise<JSONWebKeySet>;

const jwksDocument = z.object({
  keys: z.array(z.looseObject({ kty: z.string() })).max(100),
});
const discoveryDocument = z.looseObject({ issuer: z.string(), jwks_uri: z.url() });

/** Builds the loader for an issuer's configured key source (URL, OIDC discovery or file). */
export function jwksLoader(config: JwtIssuerConfig): JwksLoader {
  const timeoutMs = config.fetchTimeout * 1000;
  const getJson = async (url: URL, what: string) => {
    const res = await httpJson(url, { timeoutMs, maxBytes: limits.jwksMaxBytes });
    if (res.status !== 200) throw new Error(`${what} ${url.href}: HTTP ${res.status}`);
    return res.body;
  };
  const keys = config.keys;
  if ('jwksFile' in keys) {
    return async () => parseJwks(JSON.parse(await readFile(keys.jwksFile, 'utf8')), keys.jwksFile);
  }
  if ('jwksUri' in keys) {
    const url = new URL(keys.jwksUri);
    return async () => parseJwks(await getJson(url, 'JWKS'), url.href);
  }
  const discoveryUrl = new URL(`${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  return async () => {
    const parsed = discoveryDocument.safeParse(await getJson(discoveryUrl, 'OIDC discovery'));
    if (!parsed.success) throw new Error(`OIDC discovery ${discoveryUrl.href}: not a discovery document (no issuer or jwks_uri)`);
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer we asked about.
    if (parsed.data.issuer !== config.issuer) {
      throw new Error(`OIDC discovery ${discoveryUrl.href}: names issuer "${parsed.data.issuer}", expected "${config.issuer}"`);
    }
    const jwksUrl = new URL(parsed.data.jwks_uri);
    if (jwksUrl.protocol !== 'https:' && discoveryUrl.protocol === 'https:') {
      throw new Error(`OIDC discovery ${discoveryUrl.href}: jwks_uri must be https`);
    }
    return parseJwks(await getJson(jwksUrl, 'JWKS'), jwksUrl.href);
  };
}

function parseJwks(body: unknown, source: string): JSONWebKeySet {
  const parsed = jwksDocument.safeParse(body);
  if (!parsed.success) throw new Error(`JWKS ${source}: not a JSON Web Key Set`);
  // Symmetric keys in a published set are a misconfiguration at best; never verify with them.
  return { keys: parsed.data.keys.filter((k) => k.kty !== 'oct') as JSONWebKeySet['keys'] };
}

export interface JwksCacheOptions {
  clock: Clock;
  logger: Logger;
  maxAgeMs: number;
  cooldownMs: number;
}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

/**
 * Keys of one issuer, fetched lazily, kept for maxAge, refetched early when a token
 * names an unknown kid (key rotation) but at most once per cooldown, so a flood of
 * tokens with made-up kids cannot turn into a flood of requests to the issuer.
 * A failed refresh keeps the previous keys.
 */
export class JwksCache {
  private keys: KeyResolver | undefined;
  /**
   * Keys jose already selected and imported, by (alg, kid): the only header fields
   * a local JWKS selects on. Skips re-running selection and the resolver's await
   * chain for every token (~45 µs of a ~155 µs verification). Cleared with the set.
   */
  private selected = new Map<string, Awaited<ReturnType<KeyResolver>>>();
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private inflight: Promise<boolean> | undefined;
  private lastError = 'keys not loaded yet';
  private loads = 0;

  constructor(
    private readonly load: JwksLoader,
    private readonly options: JwksCacheOptions,
  ) {}

  /**
   * Changes whenever the key set is replaced; -1 while it is stale (older than
   * maxAge), so results verified against stale keys are not reused.
   */
  generation(now: number): number {
    return this.keys !== undefined && now - this.fetchedAt < this.options.maxAgeMs ? this.loads : -1;
  }

  /** jose key resolver: `jwtVerify(token, cache.resolve)`. */
  readonly resolve = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    const now = this.options.clock.now();
    if (this.keys === undefined || now - this.fetchedAt >= this.options.maxAgeMs) await this.refresh();
    if (this.keys === undefined) throw new KeysUnavailable(this.lastError);
    const memoKey = `${header.alg ?? ''}\u0000${header.kid ?? ''}`;
    const memo = token.header === undefined ? this.selected.get(memoKey) : undefined;
    if (memo !== undefined) return memo;
    try {
      const key = await this.keys(header, token);
      if (token.header === undefined) this.selected.set(memoKey, key);
      return key;
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !(await this.refresh())) throw err;
      return this.keys(header, token);
    }
  };

  /** Refetches unless one ran within the cooldown; resolves true when new keys were loaded. */
  private refresh(): Promise<boolean> {
    if (this.inflight) return this.inflight;
    const now = this.options.clock.now();
    if (now - this.attemptedAt < this.options.cooldownMs) return Promise.resolve(false);
    this.attemptedAt = now;
    this.inflight = this.load()
      .then(
        (jwks) => {
          this.keys = createLocalJWKSet(jwks);
          this.selected = new Map();
          this.fetchedAt = this.options.clock.now();
          this.loads++;
          return true;
        },
        (err: Error) => {
          this.lastError = err.message;
          this.options.logger.warn({ err: err.message }, 'cannot load JWKS; keeping previous keys');
          return false;
        },
      )
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}

/** No keys could be loaded at all: the token cannot be checked. */
export class KeysUnavailable extends Error {
  constructor(reason: string) {
    super(`issuer keys unavailable: ${reason}`);
  }
}

/**
 * Keeps a valid Vault token: logs in (token, AppRole, Kubernetes), renews the
 * token with renew-self before it expires, and logs in again when Vault will not
 * renew it any more (not renewable, max TTL reached, renewal refused). Timers run
 * on the injected clock, so tests move time instead of sleeping.
 *
 * With a namespace configured, the first login is preceded by a check that the
 * namespace exists and that Vault honours it (namespace.ts).
 *
 * Shared by every plugin part that talks to Vault (PKI here, Transit keys next):
 * construct one VaultAuth per client and ask it for token() before each call.
 *
 * Secrets are read at the moment they are used and never stored beyond the
 * current token; nothing here logs or formats them into an error.
 */
import type { Logger } from 'pino';
import { backoffMs } from '../../src/upstream/sdk/backoff.js';
import { limits } from '../../src/upstream/sdk/limits.js';
import { WcaError, isWcaError } from '../../src/upstream/sdk/errors.js';
import type { Schedule } from '../../src/upstream/sdk/schedule.js';
import { untrustedText } from '../../src/upstream/sdk/untrusted-text.js';
import { readSecret, type SecretSource } from '../../src/upstream/sdk/secrets.js';
import type { VaultClient, VaultResponse } from './client.js';
import type { VaultAuthConfig } from './config.js';
import { vaultBadResponse, withoutSecrets } from './errors.js';
import { verifyNamespace } from './namespace.js';

export interface VaultAuthDeps {
  client: VaultClient;
  auth: VaultAuthConfig;
  /** X-Vault-Namespace the client sends; verified before the first login. */
  namespace?: string;
  renewAtFraction: number;
  now(): number;
  schedule: Schedule;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
  /** Dev profile: a group/other-writable secret file is a warning, not an error. Absent: production. */
  devProfile?: boolean;
}

interface Lease {
  token: string;
  /** 0 means the token never expires. */
  ttlSeconds: number;
  renewable: boolean;
  obtainedAt: number;
}

const secretFields = (field: string) => ({ env: `config.${field}.env`, file: `config.${field}.file` });

/** Longest TTL believed (ten years): past it a number is garbage, not a lease. */
const maxTtlSeconds = 10 * 365 * 86_400;

/** A lease time from the network: a finite number of seconds, 0 (never expires) up to ten years. */
function ttlOf(path: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > maxTtlSeconds) {
    throw vaultBadResponse(path, `${field} is not a number of seconds between 0 and ${maxTtlSeconds}`);
  }
  return value;
}

/** Characters of one policy name shown by `upstream check` (real names are short). */
const maxPolicyChars = 64;

const RENEW_SELF = 'auth/token/renew-self';
const LOOKUP_SELF = 'auth/token/lookup-self';

export class VaultAuth {
  private lease: Lease | undefined;
  private pending: Promise<Lease> | undefined;
  /** TTL of the last fresh grant: a renewal answering less has hit the token's max TTL. */
  private grantedTtlSeconds = 0;
  private cancelTimer: (() => void) | undefined;
  private closed = false;
  private namespaceVerified = false;
  /** Logins in a row that failed or got a suspiciously short lease, and when the next one may start. */
  private loginStreak = 0;
  private nextLoginAt = 0;
  private lastLoginError: WcaError | undefined;

  constructor(private readonly deps: VaultAuthDeps) {}

  /** A token believed valid now, logging in first when there is none. */
  async token(signal?: AbortSignal): Promise<string> {
    const lease = this.lease;
    if (lease && !this.expired(lease)) return lease.token;
    return (await this.obtainOnce(signal)).token;
  }

  /**
   * Proves the credentials work now: a token (logging in if needed), then
   * lookup-self with it. Returns a line for `upstream check`.
   */
  async verify(signal?: AbortSignal): Promise<string> {
    const token = await this.token(signal);
    const res = await this.deps.client.read(LOOKUP_SELF, { operation: 'token', token, signal });
    const ttl = res.data?.ttl;
    // Policy names come from the server and are printed to a terminal: escaped, short.
    const policies = Array.isArray(res.data?.policies)
      ? res.data.policies.filter((p): p is string => typeof p === 'string').slice(0, 20).map((p) => untrustedText(withoutSecrets(p, [token]), maxPolicyChars)).join(',')
      : '';
    const expiry = typeof ttl === 'number' && ttl > 0 ? `token TTL ${ttl}s` : 'token without expiry';
    return `${this.deps.auth.method} auth accepted by ${this.deps.client.address} (${expiry}, policies ${policies || 'none'})`;
  }

  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.lease = undefined;
  }

  private get canLogin(): boolean {
    return this.deps.auth.method !== 'token';
  }

  private expired(lease: Lease): boolean {
    return lease.ttlSeconds > 0 && this.deps.now() >= lease.obtainedAt + lease.ttlSeconds * 1000;
  }

  /** Concurrent callers share one login. */
  private obtainOnce(signal?: AbortSignal): Promise<Lease> {
    this.pending ??= this.obtain(signal).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async obtain(signal?: AbortSignal): Promise<Lease> {
    if (this.deps.namespace && !this.namespaceVerified) {
      await verifyNamespace(this.deps.client, this.deps.namespace, signal);
      this.namespaceVerified = true;
    }
    const now = this.deps.now();
    if (now < this.nextLoginAt) {
      throw new WcaError(
        'ERR_UPSTREAM_UNAVAILABLE',
        `vault: not logging in again before ${new Date(this.nextLoginAt).toISOString()} after ${this.loginStreak} failed or short-lived logins in a row` +
          (this.lastLoginError ? `; last: ${this.lastLoginError.message}` : ''),
        { details: { plugin: 'vault', reason: 'login-backoff', retryAt: this.nextLoginAt, lastCode: this.lastLoginError?.code } },
      );
    }
    let lease: Lease;
    try {
      lease = await this.login(signal);
    } catch (err) {
      this.spaceNextLogin(isWcaError(err) ? err : undefined);
      throw err;
    }
    // A lease of a few seconds (or less) would have us log in again at once, over and over.
    if (lease.ttlSeconds !== 0 && lease.ttlSeconds < limits.vaultShortLeaseSeconds) this.spaceNextLogin(undefined);
    else this.loginStreak = 0;
    if (this.closed) return lease;
    this.grantedTtlSeconds = lease.ttlSeconds;
    this.adopt(lease);
    this.deps.logger.info(
      { method: this.deps.auth.method, ttlSeconds: lease.ttlSeconds, renewable: lease.renewable },
      'authenticated',
    );
    return lease;
  }

  private async login(signal?: AbortSignal): Promise<Lease> {
    const { client, auth } = this.deps;
    switch (auth.method) {
      case 'token': {
        const token = await this.readSecret(auth.token, secretFields('auth.token'));
        const res = await client.read(LOOKUP_SELF, { operation: 'token', token, signal });
        const ttl = ttlOf(LOOKUP_SELF, 'data.ttl', res.data?.ttl);
        return { token, ttlSeconds: ttl, renewable: res.data?.renewable === true, obtainedAt: this.deps.now() };
      }
      case 'approle': {
        const path = `auth/${auth.mount}/login`;
        const secretId = await this.readSecret(auth.secretId, secretFields('auth.secretId'));
        const res = await client.write(path, { role_id: auth.roleId, secret_id: secretId }, { operation: 'login', signal });
        return this.leaseFrom(path, res);
      }
      case 'kubernetes': {
        const path = `auth/${auth.mount}/login`;
        // Projected service account tokens rotate on disk: read the file at every login.
        const jwt = await this.readSecret({ file: auth.jwtFile }, { env: 'config.auth.jwtFile', file: 'config.auth.jwtFile' });
        const res = await client.write(path, { role: auth.role, jwt }, { operation: 'login', signal });
        return this.leaseFrom(path, res);
      }
    }
  }

  private leaseFrom(path: string, res: VaultResponse): Lease {
    const a = res.auth;
    if (!a || typeof a.client_token !== 'string' || a.client_token === '') {
      throw vaultBadResponse(path, 'answer has no auth.client_token');
    }
    return { token: a.client_token, ttlSeconds: ttlOf(path, 'auth.lease_duration', a.lease_duration), renewable: a.renewable === true, obtainedAt: this.deps.now() };
  }

  /** Read where it is used, so rotated files are picked up; errors name the config field, never the value. */
  private async readSecret(source: SecretSource, fields: { env: string; file: string }): Promise<string> {
    return (await readSecret('vault', source, fields, this.deps)) ?? '';
  }

  /** Use `lease` from now on and plan its renewal (or the next login). */
  private adopt(lease: Lease): void {
    this.lease = lease;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (lease.ttlSeconds === 0) return;
    // However short the lease, renewals and logins never follow each other faster than this.
    const delay = Math.max(lease.ttlSeconds * 1000 * this.deps.renewAtFraction, limits.vaultRenewMinDelayMs);
    if (lease.renewable) {
      this.cancelTimer = this.deps.schedule(() => void this.renew(lease), delay);
    } else if (this.canLogin) {
      this.cancelTimer = this.deps.schedule(() => void this.relogin('token is not renewable'), delay);
    } else {
      this.warnExpiry(lease, 'the token is not renewable');
    }
  }

  private async renew(lease: Lease): Promise<void> {
    if (this.closed || this.lease !== lease) return;
    let renewed: Lease;
    try {
      const res = await this.deps.client.write(RENEW_SELF, {}, { operation: 'token', token: lease.token });
      renewed = { ...this.leaseFrom(RENEW_SELF, res), token: lease.token };
    } catch (err) {
      this.deps.logger.warn({ code: (err as WcaError).code, err: (err as Error).message }, 'token renewal failed');
      if (this.canLogin) await this.relogin('renewal failed');
      return;
    }
    if (this.closed || this.lease !== lease) return;
    const capped = renewed.ttlSeconds < this.grantedTtlSeconds;
    if (capped && this.canLogin) {
      this.lease = renewed;
      await this.relogin('token reached its max TTL');
      return;
    }
    this.deps.logger.debug({ ttlSeconds: renewed.ttlSeconds }, 'token renewed');
    if (capped) {
      // Renewing a capped token again only buys ever shorter extensions; stop and say when it ends.
      this.lease = renewed;
      this.cancelTimer = undefined;
      this.warnExpiry(renewed, 'the token reached its max TTL');
      return;
    }
    this.adopt(renewed);
  }

  /** Log in again in the background; the current token keeps serving until then. */
  private async relogin(reason: string): Promise<void> {
    if (this.closed) return;
    this.deps.logger.info({ reason }, 'logging in again');
    try {
      await this.obtainOnce();
    } catch (err) {
      // The next mint retries the login once the current token has expired.
      this.deps.logger.error({ code: (err as WcaError).code, err: (err as Error).message }, 'login failed');
    }
  }

  private spaceNextLogin(err: WcaError | undefined): void {
    this.loginStreak++;
    this.lastLoginError = err;
    this.nextLoginAt = this.deps.now() + backoffMs(this.loginStreak, limits.vaultRenewMinDelayMs, limits.vaultLoginBackoffMaxMs);
  }

  private warnExpiry(lease: Lease, why: string): void {
    const at = new Date(lease.obtainedAt + lease.ttlSeconds * 1000).toISOString();
    this.deps.logger.warn(
      { expiresAt: at },
      `${why} and expires at ${at}; use a periodic token or AppRole/Kubernetes auth to avoid an outage`,
    );
  }
}

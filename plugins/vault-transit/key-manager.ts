/**
 * Intermediate keys kept in Vault Transit: one named ecdsa-p256 key, not
 * exportable, a new version per intermediate (rotate), each intermediate signing
 * with its own version (key_version), digests sent prehashed and batched.
 * Old versions are trimmed once every intermediate they certified has expired.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { Batcher } from '../../src/keys/batcher.js';
import type { CaKey, KeyManager, KeyManagerContext, KeyType } from '../../src/keys/types.js';
import { WcaError, isWcaError } from '../../src/upstream/sdk/errors.js';
import type { VaultAuth } from '../vault/auth.js';
import type { TransitClient, TransitKeyInfo } from './client.js';
import type { VaultTransitConfig } from './config.js';
import { trimFloor, type KeyVersionUse } from './trim.js';

const VERSION_OF = new WeakMap<CaKey, number>();

export class TransitKeyManager implements KeyManager {
  readonly name = 'vault-transit';
  private initialized = false;
  /** Versions this process made or found, and how long each must live. */
  private readonly uses = new Map<number, number>();
  private readonly batchers = new Set<Batcher<Buffer, Buffer>>();
  private readonly logger: Logger;
  private closed = false;

  constructor(
    private readonly config: VaultTransitConfig,
    private readonly client: TransitClient,
    private readonly auth: VaultAuth,
    private readonly context: KeyManagerContext,
  ) {
    this.logger = context.logger;
  }

  async generateKey(keyType: KeyType, signal?: AbortSignal): Promise<CaKey> {
    if (keyType !== 'ec-p256') {
      throw new WcaError('ERR_CONFIG_INVALID', `ca.keyType ${keyType} is not available with the vault-transit key manager; use ec-p256`, {
        details: { path: 'ca.keyType' },
      });
    }
    const token = await this.auth.token(signal);
    let info: TransitKeyInfo;
    if (!this.initialized) {
      const ensured = await this.client.ensureKey(token, signal);
      info = ensured.info;
      if (!ensured.created) {
        // Versions from an earlier run may have certified an intermediate that is still valid.
        // Recording the lowest of them holds back the same trims as recording each one.
        this.uses.set(Math.max(1, info.minAvailableVersion), this.context.now() + this.context.intermediateTtlSeconds * 1000);
        info = await this.client.rotate(token, signal);
      }
      this.initialized = true;
    } else {
      info = await this.client.rotate(token, signal);
    }
    // A version made for an intermediate that never got certified is needed by no one, nor one
    // whose leaves have all expired: dropping both keeps this map as small as the live versions.
    const now = this.context.now();
    for (const [v, until] of this.uses) if (until === Infinity || until <= now) this.uses.delete(v);
    this.uses.set(info.latestVersion, Infinity);
    this.logger.info({ key: this.config.keyName, version: info.latestVersion }, 'new key version');
    if (this.config.trim) await this.trim(token, info, signal);
    return this.caKey(info);
  }

  async check(signal?: AbortSignal): Promise<string> {
    const credentials = await this.auth.verify(signal);
    const info = await this.client.readKey(await this.auth.token(signal), signal);
    const key = this.config.paths.key;
    return info
      ? `${credentials}; ${key}: ecdsa-p256, not exportable, latest version ${info.latestVersion}`
      : `${credentials}; ${key} does not exist yet: serve creates it (ecdsa-p256, not exportable)`;
  }

  retainUntil(key: CaKey, untilMs: number): void {
    const version = VERSION_OF.get(key);
    if (version !== undefined) this.uses.set(version, untilMs);
  }

  signingProblem(): string | undefined {
    for (const b of this.batchers) {
      const err = b.failing;
      if (err) return `${isWcaError(err) ? err.code : 'ERR_INTERNAL'}: ${err.message}`;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const b of this.batchers) b.close();
    this.batchers.clear();
    this.auth.close();
  }

  private caKey(info: TransitKeyInfo): CaKey {
    const version = info.latestVersion;
    const batcher = new Batcher<Buffer, Buffer>(
      // One deadline for the whole call, a login included: the batch's slot is free again when it passes.
      async (digests, signal) => this.client.signDigests(await this.auth.token(signal), version, digests, signal),
      { ...this.config.batch, timeoutMs: this.config.requestTimeoutMs, onCall: this.context.observeSignCall },
    );
    if (this.closed) batcher.close();
    else this.batchers.add(batcher);
    const key: CaKey = {
      id: `transit:${this.config.keyName}:v${version}`,
      keyType: 'ec-p256',
      publicKeySpki: info.publicKeySpki,
      sign: async (data) => batcher.submit(crypto.createHash('sha256').update(data).digest()),
    };
    VERSION_OF.set(key, version);
    return key;
  }

  /** Housekeeping: a failed trim is logged and retried at the next rotation, never fatal. */
  private async trim(token: string, info: TransitKeyInfo, signal?: AbortSignal): Promise<void> {
    const uses: KeyVersionUse[] = [...this.uses].map(([version, neededUntilMs]) => ({ version, neededUntilMs }));
    const floor = trimFloor({ uses, latestVersion: info.latestVersion, minAvailableVersion: info.minAvailableVersion, nowMs: this.context.now() });
    if (floor === undefined) return;
    try {
      await this.client.trim(token, floor, signal);
      for (const v of this.uses.keys()) if (v < floor) this.uses.delete(v);
      this.logger.info({ key: this.config.keyName, minAvailableVersion: floor }, 'trimmed expired key versions');
    } catch (err) {
      this.logger.warn(
        { key: this.config.keyName, code: isWcaError(err) ? err.code : 'ERR_INTERNAL', err: (err as Error).message },
        'trimming old key versions failed; will retry at the next rotation',
      );
    }
  }
}

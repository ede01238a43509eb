/**
 * The Transit calls the key manager makes, over the vault plugin's HTTP client
 * (same transport, deadlines, TLS and error codes), with every answer checked
 * before use. There is deliberately no call here that could read key material:
 * no export, no backup.
 */
import crypto from 'node:crypto';
import type { VaultClient, VaultResponse } from '../vault/client.js';
import { vaultBadResponse } from '../vault/errors.js';
import { WcaError, isWcaError } from '../../src/upstream/sdk/errors.js';
import { untrustedText } from '../../src/upstream/sdk/untrusted-text.js';
import type { VaultTransitConfig } from './config.js';

const TRANSIT_KEY_TYPE = 'ecdsa-p256';

/** What we read about the Transit key (never any private part: Transit does not return it). */
export interface TransitKeyInfo {
  latestVersion: number;
  minAvailableVersion: number;
  /** The newest version's public key, DER SPKI. */
  publicKeySpki: Buffer;
}

export interface TransitClient {
  /** Reads the key; undefined when it does not exist. */
  readKey(token: string, signal?: AbortSignal): Promise<TransitKeyInfo | undefined>;
  /** Reads the key, creating it when missing; `created` says whether this call made it. */
  ensureKey(token: string, signal?: AbortSignal): Promise<{ created: boolean; info: TransitKeyInfo }>;
  rotate(token: string, signal?: AbortSignal): Promise<TransitKeyInfo>;
  /** One transit/sign call: a signature (DER) or that item's error, per digest. */
  signDigests(token: string, keyVersion: number, digests: Buffer[], signal?: AbortSignal): Promise<(Buffer | WcaError)[]>;
  /** Makes versions below `minVersion` unusable, then deletes them. */
  trim(token: string, minVersion: number, signal?: AbortSignal): Promise<void>;
}

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const SIGNATURE = /^vault:v([0-9]{1,9}):([A-Za-z0-9+/]{1,200}={0,2})$/;

export function createTransitClient(vault: VaultClient, config: VaultTransitConfig): TransitClient {
  const { paths } = config;
  const call = (token: string, signal?: AbortSignal) => ({ operation: 'pki' as const, token, signal });

  function keyInfo(path: string, res: VaultResponse): TransitKeyInfo {
    const d = res.data;
    if (!d) throw vaultBadResponse(path, 'answer has no data');
    if (d.type !== TRANSIT_KEY_TYPE) {
      throw new WcaError('ERR_UPSTREAM_CONFIG', `vault-transit: key ${config.keyName} is of type ${untrustedText(String(d.type), 32)}; workload-ca needs ${TRANSIT_KEY_TYPE}`, {
        details: { plugin: 'vault-transit', path, reason: 'key-type' },
      });
    }
    // The point of this key manager: the private key can never leave Vault.
    if (d.exportable !== false || d.allow_plaintext_backup !== false) {
      throw new WcaError(
        'ERR_UPSTREAM_CONFIG',
        `vault-transit: key ${config.keyName} is exportable or allows plaintext backup; use a key created with exportable=false`,
        { details: { plugin: 'vault-transit', path, reason: 'exportable' } },
      );
    }
    const latest = d.latest_version;
    if (!positiveInt(latest)) throw vaultBadResponse(path, 'data.latest_version is not a positive integer');
    const min = d.min_available_version;
    const versions = d.keys as Record<string, { public_key?: unknown } | undefined> | undefined;
    const publicPem = versions?.[String(latest)]?.public_key;
    if (typeof publicPem !== 'string') throw vaultBadResponse(path, `data.keys["${latest}"].public_key is missing`);
    let publicKeySpki: Buffer;
    try {
      const key = crypto.createPublicKey(publicPem);
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not P-256');
      publicKeySpki = key.export({ type: 'spki', format: 'der' });
    } catch {
      throw vaultBadResponse(path, `data.keys["${latest}"].public_key is not a P-256 public key`);
    }
    return { latestVersion: latest, minAvailableVersion: typeof min === 'number' && min > 0 ? min : 0, publicKeySpki };
  }

  async function readKey(token: string, signal?: AbortSignal): Promise<TransitKeyInfo | undefined> {
    try {
      return keyInfo(paths.key, await vault.read(paths.key, call(token, signal)));
    } catch (err) {
      if (isWcaError(err) && err.details.status === 404) return undefined;
      throw err;
    }
  }

  return {
    readKey,

    async ensureKey(token, signal) {
      const existing = await readKey(token, signal);
      if (existing) return { created: false, info: existing };
      // Transit answers a create with the key as it then is, whoever made it first.
      const res = await vault.write(paths.key, { type: TRANSIT_KEY_TYPE, exportable: false, allow_plaintext_backup: false }, call(token, signal));
      return { created: true, info: keyInfo(paths.key, res) };
    },

    async rotate(token, signal) {
      const res = await vault.write(paths.rotate, {}, call(token, signal));
      if (res.data) return keyInfo(paths.rotate, res);
      const info = await readKey(token, signal);
      if (!info) throw vaultBadResponse(paths.key, 'the key disappeared after rotate');
      return info;
    },

    async signDigests(token, keyVersion, digests, signal) {
      const res = await vault.write(
        paths.sign,
        {
          key_version: keyVersion,
          prehashed: true,
          hash_algorithm: 'sha2-256',
          marshaling_algorithm: 'asn1',
          batch_input: digests.map((d) => ({ input: d.toString('base64') })),
        },
        call(token, signal),
      );
      const results = res.data?.batch_results;
      if (!Array.isArray(results) || results.length !== digests.length) {
        throw vaultBadResponse(paths.sign, `expected ${digests.length} batch_results`);
      }
      return results.map((r: { signature?: unknown; error?: unknown } | null) => {
        if (typeof r?.error === 'string' && r.error !== '') {
          return new WcaError('ERR_UPSTREAM_UNAVAILABLE', `vault-transit: ${paths.sign}: ${untrustedText(r.error.replace(/\s+/g, ' ').trim(), 200)}`, {
            details: { plugin: 'vault-transit', path: paths.sign },
          });
        }
        const m = typeof r?.signature === 'string' ? SIGNATURE.exec(r.signature) : null;
        if (!m) return vaultBadResponse(paths.sign, 'a batch result has no well-formed signature');
        if (Number(m[1]) !== keyVersion) return vaultBadResponse(paths.sign, `signed with key version ${m[1]}, not ${keyVersion}`);
        return Buffer.from(m[2]!, 'base64');
      });
    },

    async trim(token, minVersion, signal) {
      // Transit refuses to trim below min_decryption_version or an unset min_encryption_version.
      await vault.write(paths.config, { min_decryption_version: minVersion, min_encryption_version: minVersion }, call(token, signal));
      await vault.write(paths.trim, { min_available_version: minVersion }, call(token, signal));
    },
  };
}

/**
 * The default key manager: the intermediate key is generated in this process as
 * a non-extractable WebCrypto key and used as a KeyObject by the signer threads.
 * It is never exported, serialised, or written anywhere.
 */
import crypto from 'node:crypto';
import type { KeyType } from '../x509/key-types.js';
import { signatureAlgorithmFor } from '../x509/keys.js';
import type { CaKey, KeyManager } from './types.js';

const webcrypto = crypto.webcrypto as unknown as Crypto;

const GEN_PARAMS: Record<KeyType, EcKeyGenParams | RsaHashedKeyGenParams> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'rsa-3072': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
};

export function memoryKeyManager(): KeyManager {
  return {
    name: 'memory',
    async generateKey(keyType: KeyType): Promise<CaKey> {
      const keys = (await webcrypto.subtle.generateKey(GEN_PARAMS[keyType], false, ['sign', 'verify'])) as CryptoKeyPair;
      const keyObject = crypto.KeyObject.from(keys.privateKey);
      const publicKeySpki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
      const { hash } = signatureAlgorithmFor(keyObject);
      return {
        id: `memory:${crypto.createHash('sha256').update(publicKeySpki).digest('hex').slice(0, 12)}`,
        keyType,
        publicKeySpki,
        keyObject,
        sign: async (data) => crypto.sign(hash, data, keyObject),
      };
    },
    // Nothing to keep: the key lives exactly as long as its slot holds the KeyObject.
    retainUntil() {},
    async close() {},
  };
}

import crypto from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { containsPrivateKeyArmour, isPkcs8Pem, privateKeyBlocks } from './pki.js';

/** The key detectors the invariant tests rely on must see real keys, in every armour. */
describe('private-key detectors', () => {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }) as string;
  const encrypted = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string;

  it('finds every armour, alone or inside other text', () => {
    for (const text of [pkcs8, sec1, encrypted, `log line ${JSON.stringify({ k: pkcs8 })}`]) expect(containsPrivateKeyArmour(text)).toBe(true);
    expect(containsPrivateKeyArmour('-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n')).toBe(false);
  });

  it('counts PKCS#8 blocks and recognises exactly one canonical PKCS#8 key', () => {
    expect(privateKeyBlocks(`${pkcs8}${pkcs8}`)).toHaveLength(2);
    expect(privateKeyBlocks(sec1)).toHaveLength(0);
    expect(isPkcs8Pem(pkcs8)).toBe(true);
    expect(isPkcs8Pem(sec1)).toBe(false);
    expect(isPkcs8Pem('not a key')).toBe(false);
  });
});

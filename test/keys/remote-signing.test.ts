/**
 * The CA core's path for keys outside the process, with a stand-in remote key
 * (an in-memory key that hides its KeyObject, so the core must sign through
 * key.sign): leaves verify, and a signature that does not verify never becomes
 * a certificate.
 */
import crypto from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { memoryKeyManager } from '../../src/keys/memory.js';
import type { CaKey, KeyManager } from '../../src/keys/types.js';
import { isWcaError } from '../../src/errors.js';
import { opensslVerify } from '../helpers/pki.js';
import { makeCsr } from '../fakes/csr.js';
import { hasTools } from '../helpers/tools.js';

const spiffeId = 'spiffe://cluster.local/ns/a/sa/b';

/** Remote in behaviour only: no KeyObject crosses into the core; `tamper` may rewrite signatures. */
function remoteStandIn(tamper?: { on: boolean; sign(data: Buffer): Buffer }): KeyManager & { signed: number } {
  const inner = memoryKeyManager();
  const manager = {
    name: 'remote-stand-in',
    signed: 0,
    async generateKey(keyType: CaKey['keyType']): Promise<CaKey> {
      const key = await inner.generateKey(keyType);
      return {
        id: key.id,
        keyType,
        publicKeySpki: key.publicKeySpki,
        sign: async (data: Buffer) => {
          manager.signed++;
          return tamper?.on ? tamper.sign(data) : key.sign(data);
        },
      };
    },
    retainUntil() {},
    close: () => inner.close(),
  };
  return manager;
}

describe('signing with a key outside the process', () => {
  it.runIf(hasTools('openssl'))('signs the CSR and each leaf through key.sign; leaves verify with openssl', async () => {
    const keyManager = remoteStandIn();
    const authority = await createDevAuthority({ keyManager });
    try {
      expect(keyManager.signed).toBe(1); // the intermediate's CSR
      const svid = await authority.issue({ spiffeId });
      const fromCsr = await authority.issueForCsr({ spiffeId, csr: makeCsr().pem });
      expect(keyManager.signed).toBe(3);
      for (const c of [svid, fromCsr]) expect((await opensslVerify(c.chainPem, authority.bundle().pem)).ok).toBe(true);
    } finally {
      await authority.close();
    }
  });

  it.runIf(hasTools('openssl'))('refuses a signature that does not verify (wrong key, garbage) with ERR_UPSTREAM_BAD_RESPONSE and keeps serving', async () => {
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const tamper = { on: false, sign: (data: Buffer) => crypto.sign('sha256', data, other) };
    const authority = await createDevAuthority({ keyManager: remoteStandIn(tamper) });
    try {
      tamper.on = true;
      for (const sign of [(d: Buffer) => crypto.sign('sha256', d, other), () => Buffer.from('not a signature')]) {
        tamper.sign = sign;
        const err = await authority.issue({ spiffeId }).catch((e: unknown) => e);
        expect(isWcaError(err, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true);
      }
      tamper.on = false;
      expect((await opensslVerify((await authority.issue({ spiffeId })).chainPem, authority.bundle().pem)).ok).toBe(true);
    } finally {
      await authority.close();
    }
  });
});

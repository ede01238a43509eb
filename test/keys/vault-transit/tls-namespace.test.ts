/**
 * vault-transit over TLS (caFile) and inside an OpenBao namespace, against a
 * real OpenBao dev server with its generated TLS CA.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { hasTools } from '../../helpers/tools.js';
import { isWcaError } from '../../../src/errors.js';
import { startOpenBao, type TransitBao } from './openbao.js';
import { transitKeyManager } from './harness.js';

describe.runIf(hasTools('bao'))('vault-transit over TLS and in a namespace (real OpenBao)', () => {
  let bao: TransitBao;
  beforeAll(async () => {
    bao = await startOpenBao({ tls: true });
    await bao.admin('POST', 'sys/namespaces/team-a');
    await bao.admin('POST', 'sys/mounts/transit', { type: 'transit' }, 'team-a');
  }, 30_000);
  afterAll(() => bao?.stop());

  it('trusts Vault through caFile; without it the TLS failure is ERR_UPSTREAM_UNAVAILABLE naming TLS', async () => {
    const trusted = await transitKeyManager(bao.address, { keyName: 'wca-tls', caFile: bao.caFile }, { token: bao.rootToken });
    try {
      const key = await trusted.generateKey('ec-p256');
      expect((await key.sign(Buffer.from('tbs'))).length).toBeGreaterThan(8);
    } finally {
      await trusted.close();
    }
    const untrusted = await transitKeyManager(bao.address, { keyName: 'wca-tls' }, { token: bao.rootToken });
    try {
      const err = await untrusted.generateKey('ec-p256').catch((e: unknown) => e);
      expect(isWcaError(err, 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toMatch(/TLS/);
    } finally {
      await untrusted.close();
    }
  });

  it('keeps the key in the configured namespace', async () => {
    const keyManager = await transitKeyManager(bao.address, { keyName: 'wca-ns', caFile: bao.caFile, namespace: 'team-a' }, { token: bao.rootToken });
    try {
      await keyManager.generateKey('ec-p256');
    } finally {
      await keyManager.close();
    }
    expect((await bao.api('GET', 'transit/keys/wca-ns', undefined, { namespace: 'team-a' })).body.data.type).toBe('ecdsa-p256');
    expect((await bao.api('GET', 'transit/keys/wca-ns')).status).toBe(404);
  });

  it('a namespace that does not exist fails start-up with a coded error and creates nothing', async () => {
    const keyManager = await transitKeyManager(bao.address, { keyName: 'wca-nons', caFile: bao.caFile, namespace: 'no-such-team' }, { token: bao.rootToken });
    try {
      const err = await keyManager.generateKey('ec-p256').catch((e: unknown) => e);
      expect(isWcaError(err, 'ERR_UPSTREAM_CONFIG')).toBe(true);
      expect((err as Error).message).toContain('namespace not found');
    } finally {
      await keyManager.close();
    }
    expect((await bao.api('GET', 'transit/keys/wca-nons')).status).toBe(404);
  });
});

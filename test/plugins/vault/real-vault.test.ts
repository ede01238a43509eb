/**
 * Against a real Vault: runs only when VAULT_ADDR and VAULT_TOKEN are set (and
 * is reported as skipped otherwise). The PKI mount (VAULT_PKI_MOUNT, default
 * "pki") must hold a CA able to sign intermediates, e.g.
 *   vault secrets enable pki && vault write pki/root/generate/internal common_name=test ttl=87600h
 */
import { describe, expect, it } from 'vitest';
import { provesEndToEnd } from '../../upstream/leaf-check.js';
import { mintAndValidate, trustDomain } from '../../fakes/mint.js';
import { createVault } from './harness.js';

const env = process.env;

describe.runIf(Boolean(env.VAULT_ADDR && env.VAULT_TOKEN))('vault plugin against a real Vault server (VAULT_ADDR)', () => {
  it('mints an intermediate that validates, verifies with openssl and completes a TLS handshake', async () => {
    const { authority } = await createVault(
      {
        address: env.VAULT_ADDR!,
        pkiMount: env.VAULT_PKI_MOUNT ?? 'pki',
        ...(env.VAULT_NAMESPACE ? { namespace: env.VAULT_NAMESPACE } : {}),
        ...(env.VAULT_CACERT ? { caFile: env.VAULT_CACERT } : {}),
        auth: { method: 'token' },
      },
      { VAULT_TOKEN: env.VAULT_TOKEN! },
    );
    try {
      const { csr, validate } = await mintAndValidate(authority, { ttlSeconds: 3600 });
      const proof = await provesEndToEnd(csr.keys, validate(), trustDomain);
      expect(proof.opensslOutput).toContain('OK');
      expect((await authority.fetchRoots!()).length).toBeGreaterThan(0);
    } finally {
      await authority.close();
    }
  });
});

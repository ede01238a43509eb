import { describe, expect, it } from 'vitest';
import plugin from '../../../plugins/vault/index.js';
import { configProblems } from '../../../src/upstream/loader.js';

describe('vault plugin config', () => {
  it('derives the sign and bundle paths from pkiMount and issuerRef, with defaults', () => {
    const byDefault = plugin.configSchema.parse({ address: 'https://vault:8200', auth: { method: 'token' } });
    expect(byDefault.paths).toEqual({ sign: 'pki/root/sign-intermediate', bundle: 'pki/cert/ca_chain', revoke: 'pki/revoke' });
    expect(byDefault.auth).toEqual({ method: 'token', token: { env: 'VAULT_TOKEN' } });
    const named = plugin.configSchema.parse({
      address: 'https://vault:8200',
      pkiMount: 'pki/int',
      issuerRef: 'mesh',
      auth: { method: 'approle', roleId: 'r', secretId: { file: '/run/secrets/secret-id' } },
    });
    expect(named.paths).toEqual({ sign: 'pki/int/issuer/mesh/sign-intermediate', bundle: 'pki/int/issuer/mesh/json', revoke: 'pki/int/revoke' });
    expect(named.auth).toMatchObject({ mount: 'approle', secretId: { file: '/run/secrets/secret-id' } });
  });

  it.each([
    ['no address and no auth', {}, ['config.address', 'config.auth']],
    ['an address that is not http(s)', { address: 'ftp://vault', auth: { method: 'token' } }, ['config.address']],
    ['AppRole without roleId', { address: 'https://v', auth: { method: 'approle' } }, ['config.auth.roleId']],
    ['an unknown auth method', { address: 'https://v', auth: { method: 'userpass' } }, ['config.auth.method']],
    ['a mount that escapes', { address: 'https://v', pkiMount: 'pki/../sys', auth: { method: 'token' } }, ['config.pkiMount']],
    ['a secret from both env and file', { address: 'https://v', auth: { method: 'token', token: { env: 'T', file: '/t' } } }, ['config.auth.token']],
    ['a token value in the config file', { address: 'https://v', auth: { method: 'token', token: 'hvs.secret' } }, ['config.auth.token']],
    ['a misspelt key', { address: 'https://v', auth: { method: 'token' }, namespce: 'x' }, ['config']],
    ['a renew fraction of 1', { address: 'https://v', auth: { method: 'token' }, renewAtFraction: 1 }, ['config.renewAtFraction']],
  ])('rejects %s, naming the field', (_name, config, paths) => {
    const problems = configProblems(plugin, config);
    expect(problems.map((p) => p.path).sort()).toEqual([...paths].sort());
    expect(problems.every((p) => p.message.length > 0)).toBe(true);
    expect(JSON.stringify(problems)).not.toContain('hvs.secret');
  });
});

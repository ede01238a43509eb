/** The production profile refuses a Vault (upstream or Transit key manager) reached over plain http. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { isWcaError } from '../../src/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-vault-http-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const load = (yaml: string) => {
  const file = path.join(dir, `c${n++}.yaml`);
  fs.writeFileSync(file, yaml);
  try {
    return loadConfig({ file, env: {} });
  } catch (err) {
    if (isWcaError(err)) return err;
    throw err;
  }
};

const upstream = (address: string) => `upstream:\n  plugin: vault\n  config:\n    address: ${address}\n    auth: { method: token }\n`;
const transit = (address: string) =>
  `upstream:\n  plugin: disk\nca:\n  keyType: ec-p256\n  keyManager:\n    type: vault-transit\n    address: ${address}\n    keyName: k\n    auth: { method: token }\n`;

describe('a plain-http Vault address', () => {
  it.each([
    ['the vault upstream', upstream('http://vault:8200'), 'upstream.config.address'],
    ['the vault-transit key manager', transit('HTTP://vault:8200'), 'ca.keyManager.address'],
  ])('is refused for %s in the production profile, naming the field', (_name, yaml, field) => {
    const err = load(`profile: production\n${yaml}`);
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect((err as Error).message).toContain(`${field}: is plain http`);
  });

  it.each([
    ['upstream over https in production', `profile: production\n${upstream('https://vault:8200')}`],
    ['transit over https in production', `profile: production\n${transit('https://vault:8200')}`],
    ['upstream over http in dev (the plugin warns)', upstream('http://127.0.0.1:8200')],
    ['transit over http in dev (the key manager warns)', transit('http://127.0.0.1:8200')],
  ])('%s is accepted', (_name, yaml) => {
    const result = load(yaml);
    expect(isWcaError(result) ? (result as Error).message : '').not.toMatch(/plain http/);
  });
});

/** Secret files (Vault token, secret ID, JWT, PIN, passphrase): group/other-writable refused in production, readable accepted. */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSecret } from '../../../src/upstream/sdk/secrets.js';
import { capturingLogger } from '../../fakes/upstream-ca.js';

describe('readSecret from a file checks its mode', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wca-secret-mode-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const fields = { env: 'config.auth.secretId.env', file: 'config.auth.secretId.file' };

  async function secretFile(mode: number) {
    const file = path.join(dir, `s-${mode.toString(8)}`);
    await writeFile(file, 'the-secret-value\n');
    await chmod(file, mode);
    return file;
  }

  it.each([0o600, 0o640, 0o644, 0o444])('mode %o (not writable by others; Kubernetes mounts Secrets 0644) is read in production', async (mode) => {
    const { logger } = capturingLogger();
    expect(await readSecret('vault', { file: await secretFile(mode) }, fields, { env: {}, logger, devProfile: false })).toBe('the-secret-value');
  });

  it.each([0o666, 0o620, 0o602])('mode %o (writable by group or others) is a config error in production naming the field, never the value', async (mode) => {
    const { logger } = capturingLogger();
    const file = await secretFile(mode);
    const err = await readSecret('vault', { file }, fields, { env: {}, logger }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_CONFIG' });
    expect(String((err as Error).message)).toContain('config.auth.secretId.file');
    expect(JSON.stringify(err) + String((err as Error).message)).not.toContain('the-secret-value');
  });

  it('in the dev profile a writable secret file is read with a warning', async () => {
    const { logger, text } = capturingLogger();
    expect(await readSecret('vault', { file: await secretFile(0o666) }, fields, { env: {}, logger, devProfile: true })).toBe('the-secret-value');
    expect(text()).toMatch(/writable by group or others .*0666/);
    expect(text()).not.toContain('the-secret-value');
  });
});

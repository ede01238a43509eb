/** `workload-ca upstream check` with `ca.keyManager: vault-transit`, against a real OpenBao: it logs in and reads the key, and changes nothing. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTools } from '../../helpers/tools.js';
import { runUpstreamCheck } from '../../../src/cli/commands/upstream.js';
import { exitCodeOf, ExitCode } from '../../../src/errors.js';
import { startOpenBao, type TransitBao } from './openbao.js';

describe.runIf(hasTools('bao'))('upstream check with keyManager vault-transit (real OpenBao)', () => {
  let bao: TransitBao;
  let dir: string;
  beforeAll(async () => {
    bao = await startOpenBao();
    dir = await mkdtemp(path.join(os.tmpdir(), 'wca-transit-check-'));
  }, 30_000);
  afterAll(async () => {
    await bao?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function check(keyName: string) {
    const file = path.join(dir, `${keyName}.yaml`);
    await writeFile(
      file,
      `log: { level: silent }\nca:\n  keyManager:\n    type: vault-transit\n    address: ${bao.address}\n    keyName: ${keyName}\n    auth: { method: token, token: { env: T } }\n`,
    );
    let text = '';
    const err = await runUpstreamCheck({ config: file, env: { T: bao.rootToken }, out: { write: (s: string) => (text += s) } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { text, err };
  }

  it('reports a missing key as to be created, and creates nothing', async () => {
    const { text, err } = await check('wca-check-new');
    expect(err).toBeUndefined();
    expect(text).toMatch(/keys +ok +vault-transit: token auth accepted .*transit\/keys\/wca-check-new does not exist yet/);
    expect((await bao.api('GET', 'transit/keys/wca-check-new')).status).toBe(404);
  });

  it('reports an existing key with its latest version, without rotating it', async () => {
    await bao.api('POST', 'transit/keys/wca-check-old', { type: 'ecdsa-p256' });
    const { text, err } = await check('wca-check-old');
    expect(err).toBeUndefined();
    expect(text).toMatch(/keys +ok +.*ecdsa-p256, not exportable, latest version 1/);
    expect((await bao.api('GET', 'transit/keys/wca-check-old')).body.data.latest_version).toBe(1);
  });

  it('fails on an exportable key with the config exit code', async () => {
    await bao.api('POST', 'transit/keys/wca-check-exp', { type: 'ecdsa-p256', exportable: true });
    const { text, err } = await check('wca-check-exp');
    expect(text).toMatch(/keys +FAIL .*exportable/);
    expect(exitCodeOf(err)).toBe(ExitCode.CONFIG);
  });
});

/**
 * Issue #12 (red team): the config file and a plugin module are trusted input only
 * when nobody else can rewrite them, and a hostile config file costs bounded time.
 */
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { WcaError } from '../../src/errors.js';
import { limits } from '../../src/limits.js';
import { checkUpstreamConfig, loadUpstream } from '../../src/upstream/loader.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { pluginContext } from '../../src/app/options.js';
import { systemClock } from '../../src/clock.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-untrusted-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isRoot = process.geteuid?.() === 0;

function loadError(file: string): WcaError {
  try {
    loadConfig({ file, env: {} });
  } catch (err) {
    return err as WcaError;
  }
  throw new Error('loaded');
}

async function configFile(name: string, text: string, mode: number): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

describe('config file permissions', () => {
  it('production refuses a world-writable config file', async () => {
    const err = loadError(await configFile('ww.yaml', 'profile: production\n', 0o666));
    expect(err.code).toBe('ERR_CONFIG_FILE');
    expect(err.details.reason).toBe('unsafe-permissions');
  });

  it('production refuses a group-writable one through WCA_PROFILE too', async () => {
    const file = await configFile('gw.yaml', 'trustDomain: example.org\n', 0o620);
    let err: WcaError | undefined;
    try {
      loadConfig({ file, env: { WCA_PROFILE: 'production' } });
    } catch (e) {
      err = e as WcaError;
    }
    expect(err?.details.reason).toBe('unsafe-permissions');
  });

  it.runIf(isRoot)('production refuses a config file owned by another user', async () => {
    const file = await configFile('foreign.yaml', 'profile: production\n', 0o644);
    await chown(file, 65534, 65534);
    expect(loadError(file).details.reason).toBe('unsafe-permissions');
  });

  it('a 0644 production file of ours passes the check (and fails only on its content)', async () => {
    const err = loadError(await configFile('ok.yaml', 'profile: production\n', 0o644));
    expect(err.details.reason).toBeUndefined();
  });

  it('the dev profile loads a world-writable file', async () => {
    expect(loadConfig({ file: await configFile('dev.yaml', 'profile: dev\n', 0o666), env: {} }).profile).toBe('dev');
  });
});

describe('config file size and shape', () => {
  it('refuses a file over the limit before parsing it', async () => {
    const err = loadError(await configFile('big.yaml', `# ${'x'.repeat(limits.configFileMaxBytes)}\n`, 0o644));
    expect(err.code).toBe('ERR_CONFIG_FILE');
    expect(err.details.reason).toBe('too-large');
  });

  it('a map of 60 000 keys is refused in bounded time, listing the first few', async () => {
    let text = '';
    for (let i = 0; i < 60_000; i++) text += `k${i}: 1\n`;
    const err = loadError(await configFile('wide.yaml', text, 0o644));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    const problems = err.details.problems as string[];
    expect(problems).toHaveLength(limits.configUnknownKeysShown + 1);
    expect(problems.at(-1)).toBe(`(top level): and ${60_000 - limits.configUnknownKeysShown} more unknown keys`);
  }, 30_000);

  it('still refuses duplicate keys', async () => {
    const err = loadError(await configFile('dup.yaml', 'trustDomain: a.org\ntrustDomain: b.org\n', 0o644));
    expect(err.code).toBe('ERR_CONFIG_FILE');
    expect(err.message).toContain('unique');
  });
});

describe('plugin module permissions', () => {
  const plugin = `export default { name: 'mine', configSchema: { safeParse: (v) => ({ success: true, data: v }) }, create: async () => { throw new Error('not for this test'); } };\n`;
  const context = (devProfile: boolean) => pluginContext({ logger: silentLogger(), clock: systemClock, profile: devProfile ? 'dev' : 'production', env: {} });

  async function loadError(file: string): Promise<WcaError> {
    try {
      await loadUpstream({ plugin: file, config: {} }, context(false), { timeoutMs: 5000 });
    } catch (err) {
      return err as WcaError;
    }
    throw new Error('loaded');
  }

  it('production refuses a group-writable plugin module', async () => {
    const file = await configFile('gw-plugin.mjs', plugin, 0o664);
    const err = await loadError(file);
    expect(err.code).toBe('ERR_UPSTREAM_PLUGIN_LOAD');
    expect(err.details.reason).toBe('unsafe-permissions');
    expect(await checkUpstreamConfig({ plugin: file, config: {} }, { devProfile: false })).toEqual([
      expect.objectContaining({ path: 'plugin', message: expect.stringContaining('refusing plugin module') }),
    ]);
  });

  it.runIf(isRoot)('production refuses a plugin module owned by another user', async () => {
    const file = await configFile('foreign-plugin.mjs', plugin, 0o644);
    await chown(file, 65534, 65534);
    expect((await loadError(file)).details.reason).toBe('unsafe-permissions');
  });

  it('a 0644 module of ours is imported (create() then runs)', async () => {
    const err = await loadError(await configFile('ok-plugin.mjs', plugin, 0o644));
    expect(err.message).toContain('create() failed');
  });

  it('the dev profile imports a writable module', async () => {
    expect(await checkUpstreamConfig({ plugin: await configFile('dev-plugin.mjs', plugin, 0o666), config: {} }, { devProfile: true })).toEqual([]);
  });
});

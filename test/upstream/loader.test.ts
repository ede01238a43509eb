import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkUpstreamConfig, loadUpstream } from '../../src/upstream/loader.js';
import { isWcaError, type ErrorCode } from '../../src/errors.js';
import { mintAndValidate } from '../fakes/mint.js';
import { testPluginContext } from '../fakes/upstream-ca.js';
import { created } from '../fixtures/upstream/shape-plugins.js';

const fixtures = fileURLToPath(new URL('../fixtures/upstream/', import.meta.url));
const good = { url: 'https://ca.example', auth: { roleId: 'r1' } };

async function loadError(spec: { plugin: string; config: Record<string, unknown> }, baseDir = fixtures) {
  return loadUpstream(spec, testPluginContext(), { baseDir }).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('loadUpstream', () => {
  it('loads the built-in self-signed plugin, whose mint passes validation', async () => {
    const upstream = await loadUpstream({ plugin: 'self-signed', config: {} }, testPluginContext());
    // The root is made by the first mint, for that mint's trust domain.
    expect(await upstream.fetchRoots!()).toEqual([]);
    const { result, validate } = await mintAndValidate(upstream, { trustDomain: 'loader.example' });
    expect(validate().chainPem).toHaveLength(1);
    expect(await upstream.fetchRoots!()).toEqual(result.rootsPem);
    await upstream.close();
  });

  it('the self-signed plugin makes one root, even for concurrent first mints', async () => {
    const upstream = await loadUpstream({ plugin: 'self-signed', config: {} }, testPluginContext());
    const mints = await Promise.all([1, 2, 3].map(() => mintAndValidate(upstream, { trustDomain: 'loader.example' })));
    for (const { validate } of mints) validate();
    expect(new Set(mints.map(({ result }) => result.rootsPem.join(''))).size).toBe(1);
    expect(await upstream.fetchRoots!()).toEqual(mints[0]!.result.rootsPem);
    await upstream.close();
  });

  it.each([
    { how: 'relative module path', plugin: './shape-plugins.ts', baseDir: fixtures },
    { how: 'absolute module path', plugin: path.join(fixtures, 'shape-plugins.ts'), baseDir: '/' },
    { how: 'file: URL', plugin: new URL('../fixtures/upstream/shape-plugins.ts', import.meta.url).href, baseDir: '/' },
  ])('loads a third-party plugin by $how', async ({ plugin, baseDir }) => {
    const upstream = await loadUpstream({ plugin, config: good }, testPluginContext(), { baseDir });
    expect(upstream.name).toBe('shape-test');
  });

  const failures: Array<{ name: string; plugin: string; config?: Record<string, unknown>; code: ErrorCode; message: RegExp }> = [
    {
      name: 'a missing nested field',
      plugin: './shape-plugins.ts',
      config: { url: 'https://ca.example', auth: {} },
      code: 'ERR_UPSTREAM_CONFIG',
      message: /^upstream "\.\/shape-plugins\.ts": config\.auth\.roleId: .*expected string/,
    },
    {
      name: 'an unknown key and a bad URL together',
      plugin: './shape-plugins.ts',
      config: { ...good, url: 'not a url', extra: 1 },
      code: 'ERR_UPSTREAM_CONFIG',
      message: /config\.url: .*URL.*; config: .*"extra"/,
    },
    { name: 'an unknown package', plugin: 'no-such-wca-plugin', code: 'ERR_UPSTREAM_PLUGIN_LOAD', message: /upstream "no-such-wca-plugin": cannot load plugin package \(not a built-in: self-signed, disk/ },
    { name: 'a missing module file', plugin: './nope.js', code: 'ERR_UPSTREAM_PLUGIN_LOAD', message: /upstream "\.\/nope\.js": cannot load plugin module/ },
    { name: 'a module that is not a plugin', plugin: './not-a-plugin.ts', code: 'ERR_UPSTREAM_PLUGIN_LOAD', message: /does not export an UpstreamPlugin/ },
    { name: 'create() throwing a plain error', plugin: './shape-plugins.ts', config: { ...good, fail: 'plain' }, code: 'ERR_UPSTREAM_PLUGIN_LOAD', message: /create\(\) failed: backend said no/ },
    { name: 'create() throwing a typed error', plugin: './shape-plugins.ts', config: { ...good, fail: 'typed' }, code: 'ERR_UPSTREAM_AUTH', message: /login rejected/ },
  ];

  it.each(failures)('rejects $name with $code', async ({ plugin, config, code, message }) => {
    const err = await loadError({ plugin, config: config ?? good });
    expect(isWcaError(err, code), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  it('config errors carry plugin and problems as structured details', async () => {
    const err = await loadError({ plugin: './shape-plugins.ts', config: { url: 'https://x', auth: { roleId: '' } } });
    expect(isWcaError(err, 'ERR_UPSTREAM_CONFIG')).toBe(true);
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({
      plugin: './shape-plugins.ts',
      problems: [{ path: 'config.auth.roleId' }],
    });
  });
});

describe('checkUpstreamConfig (dry run)', () => {
  it('reports every problem with its path and never calls create()', async () => {
    const before = created.count;
    const problems = await checkUpstreamConfig({ plugin: './shape-plugins.ts', config: { url: 'x', auth: {} } }, { baseDir: fixtures });
    expect(problems.map((p) => p.path).sort()).toEqual(['config.auth.roleId', 'config.url']);
    expect(created.count).toBe(before);
  });

  it('returns no problems for a good config', async () => {
    expect(await checkUpstreamConfig({ plugin: './shape-plugins.ts', config: good }, { baseDir: fixtures })).toEqual([]);
  });

  it('reports a plugin that cannot load as a "plugin" problem', async () => {
    const problems = await checkUpstreamConfig({ plugin: 'no-such-wca-plugin', config: {} });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: 'plugin', message: expect.stringMatching(/cannot load plugin package/) });
  });
});

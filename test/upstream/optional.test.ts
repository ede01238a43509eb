/** Optional vendor SDKs: a missing one is one coded error naming the package, through the loader too. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { checkUpstreamConfig, loadUpstream } from '../../src/upstream/loader.js';
import { importOptional } from '../../src/upstream/sdk/optional.js';
import { rejectionOf } from '../fakes/mint.js';
import { testPluginContext } from '../fakes/upstream-ca.js';

const fixture = fileURLToPath(new URL('../fixtures/upstream/missing-sdk-plugin.ts', import.meta.url));

describe('importOptional', () => {
  it('returns the module when it is installed', async () => {
    const zod = await importOptional('x', 'zod', () => import('zod'));
    expect(typeof zod.z.object).toBe('function');
  });

  it('turns "package not found" into ERR_UPSTREAM_DEPENDENCY_MISSING naming plugin and package', async () => {
    const pkg = 'wca-test-sdk-that-is-not-installed';
    const err = await rejectionOf(importOptional('vault', pkg, () => import(pkg)));
    expect(isWcaError(err, 'ERR_UPSTREAM_DEPENDENCY_MISSING'), String(err)).toBe(true);
    expect(isWcaError(err) && err.details).toEqual({ plugin: 'vault', package: pkg });
    expect((err as Error).message).toContain(`npm install ${pkg}`);
  });

  it('passes any other failure through unchanged', async () => {
    const boom = new TypeError('the addon crashed');
    expect(await rejectionOf(importOptional('pkcs11', 'pkcs11js', () => Promise.reject(boom)))).toBe(boom);
  });
});

describe('loader with a plugin whose SDK is missing', () => {
  it('serve (loadUpstream) fails with the dependency code, not a generic plugin-load error', async () => {
    const err = await rejectionOf(loadUpstream({ plugin: fixture, config: {} }, testPluginContext()));
    expect(isWcaError(err, 'ERR_UPSTREAM_DEPENDENCY_MISSING'), String(err)).toBe(true);
  });

  it('the dry run (checkUpstreamConfig) reports it the same way: the fix is an install, not a config edit', async () => {
    const err = await rejectionOf(checkUpstreamConfig({ plugin: fixture, config: {} }));
    expect(isWcaError(err, 'ERR_UPSTREAM_DEPENDENCY_MISSING'), String(err)).toBe(true);
  });
});

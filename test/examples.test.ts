import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { checkUpstreamConfig } from '../src/upstream/loader.js';

const dir = path.resolve(import.meta.dirname, '../examples/config');

/** Example configs are documentation: a typo in one must fail the build. */
describe.each(fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')))('examples/config/%s', (file) => {
  it('passes the config schema and consistency rules', () => {
    const config = loadConfig({ file: path.join(dir, file), env: {} });
    expect(config.profile).toBe('production');
  });

  it("passes its upstream plugin's config schema", async () => {
    const config = loadConfig({ file: path.join(dir, file), env: {} });
    expect(await checkUpstreamConfig({ plugin: config.upstream.plugin, config: config.upstream.config })).toEqual([]);
  });
});

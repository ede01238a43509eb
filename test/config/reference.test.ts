import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configRows, referencePath, renderReference } from '../../scripts/config-reference.js';

describe('docs/configuration.md, the configuration reference', () => {
  it('is what `npm run docs:config` generates from the schema (run it after changing a key)', () => {
    expect(fs.readFileSync(referencePath, 'utf8')).toBe(renderReference());
  });

  it('describes every key', () => {
    const undocumented = configRows().filter((r) => r.description.trim() === '').map((r) => r.key);
    expect(undocumented).toEqual([]);
  });

  it('lists the keys users asked about, with their defaults', () => {
    const byKey = new Map(configRows().map((r) => [r.key, r]));
    expect(byKey.get('identity.unix.spiffeId')).toBeDefined();
    expect(byKey.get('identity.unix.socketMode')?.default).toBe('`"0600"`');
    expect(byKey.get('ca.leafMaxTtl')?.default).toBe('`4h`');
    expect(byKey.get('sds.firstRequestTimeout')?.type).toBe('duration (> 0, ≤ 60)');
  });
});

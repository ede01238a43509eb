/**
 * Issue #11: what the Dockerfile's build stage runs at install time, and which base
 * images it builds on. (No container runtime here: the instructions are read, the
 * runtime entry is exercised by test/ship/packed.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { instructions } from '../helpers/dockerfile.js';

const repo = path.resolve(import.meta.dirname, '../..');
const dockerfile = fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8');
const steps = instructions(dockerfile);
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  allowScripts: Record<string, boolean>;
  engines: { node: string };
};
/** Every shell command of every RUN, split on && and ;. */
const commands = steps.filter((s) => s.op === 'RUN').flatMap((s) => s.args.split(/&&|;/).map((c) => c.trim().replace(/\s+/g, ' ')));

describe('Dockerfile', () => {
  it('installs dependencies without running their install scripts (npm 10 in the image ignores allowScripts)', () => {
    const installs = commands.filter((c) => /^npm (ci|install|i)\b/.test(c));
    expect(installs.length).toBeGreaterThanOrEqual(2);
    for (const c of installs) expect(c, c).toMatch(/ --ignore-scripts\b/);
  });

  it('rebuilds only native addons approved in package.json allowScripts, and each one by name', () => {
    const rebuilt = commands.filter((c) => c.startsWith('npm rebuild')).flatMap((c) => c.split(' ').slice(2).filter((a) => !a.startsWith('-')));
    expect(rebuilt).toEqual(['pkcs11js']);
    for (const name of rebuilt) expect(pkg.allowScripts[name], name).toBe(true);
  });

  it('builds both stages on one exact Node release, set by ARGs a digest can be appended to', () => {
    const args = Object.fromEntries(steps.filter((s) => s.op === 'ARG').map((s) => s.args.split('=') as [string, string]));
    const froms = steps.filter((s) => s.op === 'FROM').map((s) => s.args.split(' ')[0]!);
    expect(froms).toEqual(['${NODE_IMAGE}', '${NODE_RUNTIME_IMAGE}']);
    const build = /^node:(\d+\.\d+\.\d+)-bookworm$/.exec(args.NODE_IMAGE ?? '');
    const run = /^node:(\d+\.\d+\.\d+)-bookworm-slim$/.exec(args.NODE_RUNTIME_IMAGE ?? '');
    expect(build?.[1], 'NODE_IMAGE pins an exact version').toBeDefined();
    expect(run?.[1]).toBe(build?.[1]);
    // The image's Node satisfies the package's engines (>= 20.6) and is the major the suite runs on.
    const [major, minor] = build![1]!.split('.').map(Number);
    expect(major! > 20 || (major === 20 && minor! >= 6)).toBe(true);
    expect(pkg.engines.node).toBe('>=20.6');
    expect(`v${major}`).toBe(process.version.split('.')[0]);
  });
});

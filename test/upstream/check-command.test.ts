/** `workload-ca upstream check` (src/cli/commands/upstream.ts) against the disk plugin. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUpstreamCommand, runUpstreamCheck } from '../../src/cli/commands/upstream.js';
import { exitCodeOf, ExitCode, isWcaError } from '../../src/errors.js';
import { createTestRootCa, privateKeyPem } from '../fakes/upstream-ca.js';

let dir: string;
const configs: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-check-'));
  const ca = await createTestRootCa({ name: 'Check Root' });
  const other = await createTestRootCa({ name: 'Other' });
  await writeFile(path.join(dir, 'ca.pem'), ca.rootPem);
  await writeFile(path.join(dir, 'ca.key'), await privateKeyPem(ca.rootKeys));
  await writeFile(path.join(dir, 'other.key'), await privateKeyPem(other.rootKeys));
  const yaml = (upstreamConfig: string) =>
    `profile: dev\ntrustDomain: check.example\nlog:\n  level: silent\nupstream:\n  plugin: disk\n  config:\n${upstreamConfig}`;
  const write = async (name: string, text: string) => {
    configs[name] = path.join(dir, `${name}.yaml`);
    await writeFile(configs[name]!, text);
  };
  await write('good', yaml(`    certFile: ${dir}/ca.pem\n    keyFile: ${dir}/ca.key\n`));
  await write('missingKey', yaml(`    certFile: ${dir}/ca.pem\n`));
  await write('wrongKey', yaml(`    certFile: ${dir}/ca.pem\n    keyFile: ${dir}/other.key\n`));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  let text = '';
  return { out: { write: (s: string) => (text += s) }, text: () => text };
}

describe('upstream check', () => {
  it('--mint: config, connect, roots and a validated CSR round trip are reported', async () => {
    const c = capture();
    await runUpstreamCheck({ config: configs.good, mint: true, env: {}, out: c.out });
    const lines = c.text();
    expect(lines).toMatch(/^upstream "disk" for trust domain check\.example/);
    for (const step of ['config', 'connect', 'roots', 'mint']) expect(lines).toMatch(new RegExp(`^  ${step} +ok `, 'm'));
    expect(lines).toMatch(/roots +ok +CN=Check Root/);
    expect(lines).toMatch(/mint +ok +intermediate valid until \d{4}-/);
    expect(lines).toMatch(/upstream check passed\n$/);
  });

  it('without --mint the signing step is skipped and says so', async () => {
    const c = capture();
    await runUpstreamCheck({ config: configs.good, env: {}, out: c.out });
    expect(c.text()).toMatch(/mint +skipped/);
  });

  it.each([
    { name: 'a config error', config: 'missingKey', step: 'config', message: /upstream "disk": config\.keyFile: .*expected string/ },
    { name: 'a key that does not match', config: 'wrongKey', step: 'connect', message: /config\.keyFile: the key in .* does not match/ },
  ])('$name fails at the $step step with the config exit code', async ({ config, step, message }) => {
    const c = capture();
    const err = await runUpstreamCheck({ config: configs[config], mint: true, env: {}, out: c.out }).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_UPSTREAM_CONFIG'), String(err)).toBe(true);
    expect(exitCodeOf(err)).toBe(ExitCode.CONFIG);
    expect(c.text()).toMatch(new RegExp(`^  ${step} +FAIL `, 'm'));
    expect(c.text()).toMatch(message);
    expect(c.text()).not.toMatch(/check passed/);
  });

  it('a bad --ttl is a usage error', async () => {
    const err = await runUpstreamCheck({ config: configs.good, ttl: 'soon', env: {}, out: capture().out }).catch((e: unknown) => e);
    expect(exitCodeOf(err)).toBe(ExitCode.USAGE);
  });

  it('is wired as `upstream check` in commander', async () => {
    const program = new Command('workload-ca').exitOverride();
    registerUpstreamCommand(program);
    const err = await program
      .parseAsync(['node', 'workload-ca', 'upstream', 'check', '--config', configs.missingKey!, '--mint'])
      .catch((e: unknown) => e);
    expect(exitCodeOf(err)).toBe(ExitCode.CONFIG);
  });
});

describe('upstream check with the dev profile default (self-signed)', () => {
  it('passes with --mint even though the root appears only after the first mint', async () => {
    const c = capture();
    await runUpstreamCheck({ mint: true, env: {}, out: c.out });
    expect(c.text()).toMatch(/^upstream "self-signed"/);
    expect(c.text()).toMatch(/roots +ok +none published yet/);
    expect(c.text()).toMatch(/mint +ok/);
  });
});

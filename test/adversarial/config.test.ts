/**
 * Issue #8 item 14: configuration that silently weakens the CA is refused at
 * start. A disk CA key open to group or others is refused in production (a
 * warning in dev); a Unix-socket identity outside our trust domain, or a
 * reserved one, fails config load (exit 3) before anything listens.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ExitCode, exitCodeOf, isWcaError, type ErrorCode } from '../../src/errors.js';
import { loadUpstream } from '../../src/upstream/loader.js';
import { capturingLogger, createTestRootCa, privateKeyPem, testPluginContext } from '../fakes/upstream-ca.js';
import { cliEntry } from '../helpers/test-build.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const runFile = promisify(execFile);
let dir: string;
let keyPem: string;
const file = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-adv-config-'));
  const root = await createTestRootCa({ name: 'Disk Mode Root' });
  keyPem = await privateKeyPem(root.rootKeys);
  await writeFile(file('root.pem'), root.rootPem);
  await writeFile(file('root.key'), keyPem, { mode: 0o600 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `workload-ca serve -c <file>`; a config that is wrongly accepted keeps serving until the timeout kills it. */
async function serve(configFile: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [cliEntry, 'serve', '-c', configFile], {
      cwd: repoRoot,
      timeout: 25_000,
      env: { PATH: process.env.PATH ?? '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number | null; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : null, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Writes `text` as a config file and expects loading it to fail with `code`, exit 3, and a message matching `problem`. */
async function expectLoadRefused(name: string, text: string, code: ErrorCode, problem: RegExp): Promise<void> {
  const config = file(name);
  await writeFile(config, text);
  let err: unknown;
  try {
    loadConfig({ file: config, env: {} });
  } catch (e) {
    err = e;
  }
  expect(isWcaError(err, code)).toBe(true);
  expect(exitCodeOf(err)).toBe(ExitCode.CONFIG);
  expect((err as Error).message).toMatch(problem);
}

const loadDisk = (devProfile: boolean, logger = capturingLogger().logger) =>
  loadUpstream({ plugin: 'disk', config: { certFile: file('root.pem'), keyFile: file('root.key') } }, testPluginContext({ devProfile, logger }));

describe('disk upstream: key file permissions', () => {
  it.each(['0644', '0640', '0604', '0660'])('production refuses a key file with mode %s, naming the field and the fix', async (mode) => {
    await chmod(file('root.key'), parseInt(mode, 8));
    const err = await loadDisk(false).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_UPSTREAM_CONFIG')).toBe(true);
    expect(exitCodeOf(err)).toBe(ExitCode.CONFIG);
    expect((err as Error).message).toMatch(new RegExp(`config\\.keyFile: .*root\\.key .*mode ${mode}.*chmod 600`));
    expect((err as Error).message).not.toMatch(/PRIVATE KEY/);
  });

  it('the dev profile loads it with a warning naming the file and its mode', async () => {
    await chmod(file('root.key'), 0o644);
    const log = capturingLogger();
    const upstream = await loadDisk(true, log.logger);
    await upstream.close();
    const warnings = log.lines().filter((l) => l.level === 'warn' && l.field === 'config.keyFile');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ mode: '0644', path: file('root.key'), plugin: 'disk' });
    // The plugin's name once per line: one field (the loader's), not again in the message or a second key.
    const raw = log.text().split('\n').find((l) => l.includes('"config.keyFile"'))!;
    expect(raw.match(/disk/g)).toHaveLength(1);
    expect(log.text()).not.toContain(keyPem.split('\n')[1]);
  });

  it.each(['0600', '0400'])('production accepts mode %s', async (mode) => {
    await chmod(file('root.key'), parseInt(mode, 8));
    const upstream = await loadDisk(false);
    await upstream.close();
  });

  it('`serve` in production with a 0644 key exits 3 before listening', async () => {
    await chmod(file('root.key'), 0o644);
    const config = file('prod.yaml');
    await writeFile(
      config,
      [
        'profile: production',
        'trustDomain: cluster.local',
        `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
        `upstream: { plugin: disk, config: { certFile: ${file('root.pem')}, keyFile: ${file('root.key')} } }`,
        'log: { level: error }',
        '',
      ].join('\n'),
    );
    const r = await serve(config);
    expect(r.code).toBe(ExitCode.CONFIG);
    expect(r.stderr).toMatch(/config\.keyFile: .*mode 0644/);
    expect(r.stdout).not.toMatch(/workload-ca serving/);
  });
});

describe('identity.unix.spiffeId', () => {
  const yaml = (spiffeId: string) =>
    ['trustDomain: cluster.local', `listen: { sds: "unix:${dir}/sds.sock", admin: "unix:${dir}/admin.sock", http: "127.0.0.1:0" }`, `identity: { unix: { spiffeId: "${spiffeId}" } }`, 'log: { level: error }', ''].join('\n');

  it.each([
    { name: 'another trust domain', id: 'spiffe://other.example/app', problem: /identity\.unix\.spiffeId: .*not in trust domain "cluster\.local"/ },
    { name: 'the trust domain ID', id: 'spiffe://cluster.local', problem: /identity\.unix\.spiffeId: .*trust domain's own ID/ },
    { name: "the server's SDS identity", id: 'spiffe://cluster.local/workload-ca/sds', problem: /identity\.unix\.spiffeId: .*own SDS identity/ },
  ])('$name fails config load (exit 3)', async ({ id, problem }) => {
    await expectLoadRefused('unix.yaml', yaml(id), 'ERR_CONFIG_INVALID', problem);
  });

  it('a workload ID of our own trust domain loads', async () => {
    const config = file('unix-ok.yaml');
    await writeFile(config, yaml('spiffe://cluster.local/ns/shop/sa/cart'));
    expect(loadConfig({ file: config, env: {} }).identity.unix?.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
  });

  it('`serve` with a foreign unix identity exits 3 before listening', async () => {
    const config = file('unix-serve.yaml');
    await writeFile(config, yaml('spiffe://other.example/app'));
    const r = await serve(config);
    expect(r.code).toBe(ExitCode.CONFIG);
    expect(r.stderr).toMatch(/identity\.unix\.spiffeId/);
    expect(r.stdout).not.toMatch(/workload-ca serving/);
  });
});

describe('identity.jwt key sources found by the config fuzz', () => {
  it.each([
    { name: 'a jwksUri that is not a URL (a TypeError before)', keys: '{ jwksUri: dev }', problem: /identity\.jwt\.issuers\.0\.keys/ },
    { name: 'OIDC discovery with an issuer that is not a URL (crashed at start before)', keys: '{ discovery: true }', problem: /identity\.jwt\.issuers\.0\.issuer: with keys\.discovery the issuer must be an https:\/\/ URL/ },
  ])('$name fails config load (exit 3)', async ({ keys, problem }) => {
    const text = `identity: { jwt: { issuers: [ { issuer: kubernetes, audiences: [workload-ca], keys: ${keys} } ] } }\n`;
    await expectLoadRefused('jwt.yaml', text, 'ERR_CONFIG_INVALID', problem);
  });
});

describe('YAML the parser only warns about', () => {
  it.each([
    ['an unknown tag', 'profile: !!js/function "dev"\n'],
    ['a local tag', 'trustDomain: !ref cluster.local\n'],
  ])('%s refuses the file (exit 3) instead of turning the value into a string', async (_name, text) => {
    await expectLoadRefused('tagged.yaml', text, 'ERR_CONFIG_FILE', /is not valid YAML: .*tag/i);
  });
});

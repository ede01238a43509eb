/**
 * Red-team findings on the dev profile: WCA_PROFILE=dev turned a `profile: production`
 * file into an unauthenticated CA (insecure-dev) issuing under the real disk root,
 * and the loopback check behind insecure-dev and plaintext SDS trusted host names
 * such as "127.0.0.1.nip.io". Real config files, a real disk root, real SDS calls.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { isLoopback, parseListenAddress, type ListenAddress } from '../../src/net/listen-address.js';
import { loadConfig, type ConfigFlags } from '../../src/config/load.js';
import { ExitCode, exitCodeOf, isWcaError } from '../../src/errors.js';
import { InsecureDevAuthenticator } from '../../src/identity/insecure-dev.js';
import { selectAuthenticators } from '../../src/config/authenticators.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { resolveSdsTransport } from '../../src/transport/sds-transport.js';
import { capturingLogger, createTestRootCa, privateKeyPem } from '../fakes/upstream-ca.js';
import { connect, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { cliEntry } from '../helpers/test-build.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const runFile = promisify(execFile);
let dir: string;
const file = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-adv-devprofile-'));
  const root = await createTestRootCa({ name: 'Persistent Disk Root' });
  await writeFile(file('root.pem'), root.rootPem);
  await writeFile(file('root.key'), await privateKeyPem(root.rootKeys), { mode: 0o600 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A config on the disk upstream; `head` goes first (e.g. a profile line). */
async function diskConfig(name: string, head: string, tail = ''): Promise<string> {
  const target = file(name);
  await writeFile(
    target,
    `${head}\ntrustDomain: cluster.local\nlisten:\n  sds: "127.0.0.1:0"\n  http: "127.0.0.1:0"\n  admin: unix:${dir}/${name}.sock\n` +
      `upstream:\n  plugin: disk\n  config:\n    certFile: ${file('root.pem')}\n    keyFile: ${file('root.key')}\n${tail}`,
  );
  return target;
}

function loadError(configFile: string, env: Record<string, string | undefined>, flags: ConfigFlags = {}): unknown {
  try {
    loadConfig({ file: configFile, env, flags });
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('a profile from the environment or a flag never contradicts the file', () => {
  it.each([
    { source: 'WCA_PROFILE', env: { WCA_PROFILE: 'dev' }, flags: {} },
    { source: '--profile', env: {}, flags: { profile: 'dev' } },
    // The flag wins over the environment, and still may not contradict the file.
    { source: '--profile', env: { WCA_PROFILE: 'production' }, flags: { profile: 'dev' } },
  ])('$source=dev on a "profile: production" file is a config error naming both', async ({ source, env, flags }) => {
    const err = loadError(await diskConfig('prod', 'profile: production', 'sds:\n  transport: mtls\n'), env, flags);
    expect(isWcaError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect(exitCodeOf(err)).toBe(ExitCode.CONFIG);
    expect((err as { details: unknown }).details).toMatchObject({ field: 'profile', reason: 'profile-override', file: 'production', override: 'dev', source });
  });

  it('agreeing with the file, or setting a profile the file leaves out, is fine', async () => {
    expect(loadConfig({ file: await diskConfig('same', 'profile: production', 'sds:\n  transport: mtls\n'), env: { WCA_PROFILE: 'production' } }).profile).toBe('production');
    expect(loadConfig({ file: await diskConfig('unset', '# no profile'), env: { WCA_PROFILE: 'production' } }).profile).toBe('production');
  });

  it('`serve` exits 3 before anything listens, naming both', async () => {
    const configFile = await diskConfig('serve', 'profile: production', 'sds:\n  transport: mtls\n');
    const result = await runFile(process.execPath, [cliEntry, 'serve', '-c', configFile], {
      cwd: repoRoot,
      // A config wrongly accepted keeps serving until this kills it.
      timeout: 20_000,
      env: { PATH: process.env.PATH ?? '', WCA_PROFILE: 'dev' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number | null; stderr: string }) => ({ code: typeof e.code === 'number' ? e.code : null, stderr: e.stderr }),
    );
    expect(result.code).toBe(ExitCode.CONFIG);
    expect(result.stderr).toMatch(/WCA_PROFILE=dev contradicts "profile: production"/);
  });
});

describe('insecure-dev only under the throw-away self-signed root', () => {
  it('is not among the default authenticators of a dev profile on a persistent upstream', async () => {
    const config = loadConfig({ file: await diskConfig('dev-disk', 'profile: dev'), env: {} });
    expect(selectAuthenticators(config).names).not.toContain('insecure-dev');
    expect(selectAuthenticators(loadConfig({ env: {} })).names).toContain('insecure-dev');
  });

  it('listing it explicitly with a persistent upstream is refused at load', async () => {
    const err = loadError(await diskConfig('dev-disk-explicit', 'profile: dev', 'sds:\n  authenticators: [join-token, insecure-dev]\n'), {});
    expect(isWcaError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect((err as { details: { problems: string[] } }).details.problems.join('\n')).toMatch(/"insecure-dev" is not available.*self-signed, not "disk"/);
  });

  it('a running dev CA on the disk root answers a bare node.id with UNAUTHENTICATED, and its warning names the upstream', async () => {
    const log = capturingLogger();
    const app = await startApp(loadConfig({ file: await diskConfig('dev-disk-serve', 'profile: dev'), env: {} }), { logger: log.logger, env: {} });
    const client = connect(app.addresses.sds!);
    try {
      const stream = XdsStream.sotw(client);
      stream.send({ node: envoyNode('ns/kube-system/sa/admin'), type_url: secretTypeUrl, resource_names: ['default'] });
      expect((await stream.status).code).toBe(grpc.status.UNAUTHENTICATED);
      const warning = log.lines().find((line) => String(line.msg).startsWith('DEVELOPMENT PROFILE'));
      expect(warning).toMatchObject({ upstream: 'disk' });
      expect(String(warning!.msg)).toMatch(/upstream "disk" \(a persistent root/);
      expect(String(warning!.msg)).not.toMatch(/throw-away|node\.id/);
      expect(log.text()).not.toMatch(/INSECURE/);
    } finally {
      client.close();
      await app.close();
    }
  });
});

describe('loopback means an IP literal, never a host name', () => {
  const tcp = (host: string): ListenAddress => ({ kind: 'tcp', host, port: 8234 });

  it.each(['127.evil.test', '127.0.0.1.nip.io', 'localhost.evil.test', '0.0.0.0', '10.0.0.1', '::', '128.0.0.1'])('%s is not loopback', (host) => {
    expect(isLoopback(tcp(host))).toBe(false);
  });

  it.each(['127.0.0.1', '127.5.6.7', '::1', '0:0:0:0:0:0:0:1'])('%s is loopback', (host) => {
    expect(isLoopback(tcp(host))).toBe(true);
  });

  it('"localhost" is bound as 127.0.0.1, whatever the resolver says', () => {
    expect(parseListenAddress('localhost:8234')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8234 });
  });

  it.each(['127.0.0.1.nip.io', '127.evil.test'])('on %s plaintext SDS is refused at load, and the dev default is TLS', async (host) => {
    const target = file(`plain-${host}.yaml`);
    await writeFile(target, `profile: dev\nlisten:\n  sds: "${host}:8234"\n  admin: unix:${dir}/plain.sock\nsds:\n  transport: plaintext\n`);
    const err = loadError(target, {});
    expect(isWcaError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect((err as { details: { problems: string[] } }).details.problems.join('\n')).toMatch(/sds\.transport: plaintext is allowed only .* on a loopback address/);
    expect(resolveSdsTransport(undefined, 'dev', tcp(host))).toBe('tls');
    expect(() => new InsecureDevAuthenticator({ profile: 'dev', trustDomain: 'cluster.local', listen: tcp(host), logger: silentLogger() })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});

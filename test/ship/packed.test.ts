/**
 * Issue #11 items 1 and 2, on one packed install (packing runs a clean build, so two
 * files packing at once would race on dist/): what `npm pack` ships and what an
 * install of it can do on a machine that skipped optional dependencies and install
 * scripts (no C++ toolchain, no vendor SDKs, no tsx, no grpc-js-xds); and the
 * container image's own entry command, run the way the image runs it.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { containsPrivateKeyArmour, privateKeyBlocks, splitPem } from '../helpers/pki.js';
import { finalStageRuntime } from '../helpers/dockerfile.js';
import { connect, decodeSecret, type AnyMsg, envoyNode, secretTypeUrl } from '../sds/envoy-client.js';
import { httpGet, packAndInstall, repoRoot, runCommand, startServer, type PackedInstall } from '../helpers/packed.js';
import { hasTools } from '../helpers/tools.js';

let packed: PackedInstall;
let bin: string;
const workloadCa = (...args: string[]) => runCommand(bin, args, { cwd: packed.dir, env: { ...process.env, WCA_CONFIG: '' } });

beforeAll(async () => {
  packed = await packAndInstall();
  bin = path.join(packed.dir, 'node_modules/.bin/workload-ca');
}, 300_000);

/** Tracked files under `dir` (relative to the repo), so a stray local file cannot make the list pass. */
const tracked = (dir: string): string[] =>
  execFileSync('git', ['ls-files', dir], { cwd: repoRoot, encoding: 'utf8' }).split('\n').filter(Boolean);

function expectedFiles(): string[] {
  const compiled = [...tracked('src'), ...tracked('plugins')]
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [`dist/${f.replace(/\.ts$/, '.js')}`, `dist/${f.replace(/\.ts$/, '.d.ts')}`]);
  const docs = [...tracked('docs'), ...tracked('plugins').filter((f) => f.endsWith('README.md'))];
  const migrations = tracked('src/state/postgres/migrations').filter((f) => f.endsWith('.sql'));
  return [...compiled, ...docs, ...migrations, ...tracked('protos'), 'package.json', 'README.md', 'LICENSE', 'SECURITY.md'].sort();
}

describe('npm pack', () => {
  it('ships exactly the compiled code with declaration files, the protos, the licence and the docs', () => {
    expect(packed.files).toEqual(expectedFiles());
  });

  it('contains the vendored Envoy protos with their licence, and nothing of tests, benches, CI or maps', () => {
    expect(packed.files).toContain('protos/third_party/envoy-api/envoy/service/secret/v3/sds.proto');
    expect(packed.files).toContain('protos/third_party/LICENSE');
    expect(packed.files).toContain('protos/grpc-health/grpc/health/v1/health.proto');
    expect(packed.files).toContain('protos/grpc-health/LICENSE');
    expect(packed.files.filter((f) => /^(test|bench|\.ci|scripts|deploy)\/|\.map$|\.tsbuildinfo$|(?<!\.d)\.ts$/.test(f))).toEqual([]);
  });
});

// Side by side: each case runs its own processes on its own files in the install.
describe('installed with --omit=optional --ignore-scripts', { concurrent: true }, () => {
  it('has no TypeScript loader, no grpc-js-xds and no vendor SDK at run time', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(packed.packageDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      optionalDependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies)).not.toEqual(expect.arrayContaining(['tsx']));
    expect(Object.keys(manifest.dependencies)).not.toContain('@grpc/grpc-js-xds');
    expect(Object.keys(manifest.optionalDependencies).sort()).toEqual(['@aws-sdk/client-acm-pca', 'pg', 'pkcs11js']);
    for (const absent of ['tsx', '@grpc/grpc-js-xds', 'pkcs11js', '@aws-sdk/client-acm-pca', 'pg']) {
      expect(fs.existsSync(path.join(packed.dir, 'node_modules', absent)), absent).toBe(false);
    }
  });

  it('workload-ca --version, -V and version print the package version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const outputs = await Promise.all([workloadCa('--version'), workloadCa('-V'), workloadCa('version')]);
    for (const r of outputs) {
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(`workload-ca ${version} (node ${process.version})\n`);
    }
  });

  it('workload-ca issue prints a chain for the requested SPIFFE ID, its key and the bundle', async () => {
    const r = await workloadCa('issue', '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--ttl', '10m');
    expect(r.code, r.stderr).toBe(0);
    const certs = splitPem(r.stdout);
    expect(certs).toHaveLength(3);
    expect(privateKeyBlocks(r.stdout)).toHaveLength(1);
    expect(new X509Certificate(certs[0]!).subjectAltName).toBe('URI:spiffe://cluster.local/ns/a/sa/b');
    expect(new X509Certificate(certs[0]!).checkIssued(new X509Certificate(certs[1]!))).toBe(true);
  });

  it('workload-ca serve starts, answers /healthz and exits 0 on SIGTERM', async () => {
    const server = await startServer(
      bin,
      ['serve', '--sds-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--admin-listen', `unix:${packed.dir}/admin.sock`],
      { cwd: packed.dir, env: { ...process.env, WCA_CONFIG: '' } },
    );
    try {
      const port = /http\s+127\.0\.0\.1:(\d+)/.exec(server.stdout())![1];
      expect(await httpGet(`http://127.0.0.1:${port}/healthz`)).toMatchObject({ status: 200 });
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(containsPrivateKeyArmour(server.stderr())).toBe(false);
  });

  it.each([
    ['aws-acm-pca', '@aws-sdk/client-acm-pca', 'caArn: arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555'],
    ['pkcs11', 'pkcs11js', 'module: /usr/lib/softhsm/libsofthsm2.so\n    tokenLabel: ca\n    keyLabel: ca\n    certLabel: ca\n    pinEnv: HSM_PIN'],
  ])('a configured %s upstream without %s exits 3 naming the package', async (plugin, pkg, config) => {
    const file = path.join(packed.dir, `${plugin}.yaml`);
    fs.writeFileSync(file, `upstream:\n  plugin: ${plugin}\n  config:\n    ${config}\n`);
    const r = await workloadCa('upstream', 'check', '-c', file);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toContain(`needs the npm package ${pkg}, which is not installed`);
  });

  it('serve with state.store postgres but without pg exits 3 naming the package', async () => {
    const file = path.join(packed.dir, 'postgres.yaml');
    fs.writeFileSync(file, `state:\n  store: postgres\n  postgres: { host: /nonexistent, database: wca, user: wca }\n`);
    const r = await workloadCa('serve', '-c', file, '--sds-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--admin-listen', `unix:${packed.dir}/pg-admin.sock`);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toContain('needs the npm package pg, which is not installed');
  });

  it("the plugins README's worked example type-checks against the installed package's declarations", async () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'plugins/README.md'), 'utf8');
    const example = /<!-- example:start[^>]*-->\n```ts\n([\s\S]*?)```\n<!-- example:end -->/.exec(readme)![1]!;
    expect(example).toContain("from 'workload-ca/upstream/types.js'");
    fs.writeFileSync(path.join(packed.dir, 'http-ca.ts'), example);
    fs.writeFileSync(
      path.join(packed.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true,
          // Node's own types from this checkout: the example uses fetch and AbortSignal.
          typeRoots: [path.join(repoRoot, 'node_modules/@types')], types: ['node'],
        },
        files: ['http-ca.ts'],
      }),
    );
    const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
    const r = await runCommand(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: packed.dir });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);
});

/** A port nobody listens on right now (the config needs fixed ports for healthcheck to find). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Paths under /tmp (three levels) owned by `uid`: the image has no writable /tmp, so
 * there must be none. Other suites create and remove their temp folders meanwhile.
 */
function tmpFilesOf(uid: number, dir = '/tmp', depth = 3): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // removed while we looked, or not ours to read
  }
  return names.flatMap((name) => {
    const full = path.join(dir, name);
    const stat = fs.lstatSync(full, { throwIfNoEntry: false });
    if (stat === undefined) return [];
    const below = depth > 1 && stat.isDirectory() ? tmpFilesOf(uid, full, depth - 1) : [];
    return stat.uid === uid ? [full, ...below] : below;
  });
}

describe('the container image entry (Dockerfile), outside a container', () => {
  const image = finalStageRuntime(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));

  it('runs node on the compiled bin as a numeric non-root user, with a healthcheck command (no curl)', () => {
    expect(image.entrypoint).toEqual(['node', 'dist/src/cli/main.js']);
    expect(image.cmd).toEqual(['serve']);
    expect(image.healthcheck).toEqual([...image.entrypoint, 'healthcheck']);
    expect(image.user.uid).toBeGreaterThan(0);
    expect(image.workdir).toBe('/app');
  });

  // setpriv runs the entry command as the image's user.
  it.runIf(hasTools('setpriv'))('serves SDS and passes its HEALTHCHECK as that user, from a read-only tree, with no writable temp directory', async () => {
    // The image's filesystem: /app (the package, read-only), /etc/workload-ca (config,
    // read-only), /run/workload-ca (the one writable folder, the admin socket's), and a
    // TMPDIR and HOME nobody can write.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-image-'));
    fs.chmodSync(root, 0o755);
    const app = path.join(root, 'app');
    fs.cpSync(packed.dir, app, { recursive: true, verbatimSymlinks: true });
    const workdir = path.join(app, 'node_modules/workload-ca');
    const etc = path.join(root, 'etc/workload-ca');
    const run = path.join(root, 'run/workload-ca');
    const readOnly = path.join(root, 'read-only');
    for (const dir of [etc, run, readOnly]) fs.mkdirSync(dir, { recursive: true });
    const [sdsPort, httpPort] = [await freePort(), await freePort()];
    fs.writeFileSync(path.join(etc, 'config.yaml'), `listen:\n  sds: 127.0.0.1:${sdsPort}\n  http: 127.0.0.1:${httpPort}\n`);
    execFileSync('chmod', ['-R', 'a-w,a+rX', app, path.join(root, 'etc'), readOnly]);
    fs.chownSync(run, image.user.uid, image.user.gid);
    fs.chmodSync(run, 0o700);

    const fromImage = (value: string) =>
      value.replace('/etc/workload-ca', etc).replace('/run/workload-ca', run).replace(/^\/app\b/, workdir);
    const env = {
      PATH: process.env.PATH,
      HOME: readOnly,
      TMPDIR: readOnly,
      ...Object.fromEntries(Object.entries(image.env).map(([k, v]) => [k, fromImage(v)])),
    };
    const asImageUser = ['--reuid', String(image.user.uid), '--regid', String(image.user.gid), '--clear-groups', '--'];
    const tmpBefore = tmpFilesOf(image.user.uid);

    const server = await startServer('setpriv', [...asImageUser, ...image.entrypoint, ...image.cmd], { cwd: workdir, env });
    try {
      expect(server.stdout()).toContain(`admin  unix:${run}/admin/admin.sock`);
      const health = await runCommand('setpriv', [...asImageUser, ...image.healthcheck], { cwd: workdir, env });
      expect(health, health.stderr).toMatchObject({ code: 0 });
      expect(health.stdout).toMatch(/\/readyz: 200 ready/);

      // A real SDS request: the dev profile's insecure-dev authenticator names the identity by node.id.
      const client = connect(`127.0.0.1:${sdsPort}`);
      try {
        const response = await new Promise<{ resources: AnyMsg[] }>((resolve, reject) =>
          (client as any).FetchSecrets(
            { node: envoyNode('ns/shop/sa/cart'), resource_names: ['default'], type_url: secretTypeUrl },
            (err: Error | null, r: { resources: AnyMsg[] }) => (err ? reject(err) : resolve(r)),
          ),
        );
        const secret = decodeSecret(response.resources[0]!);
        expect(new X509Certificate(secret.certificateChain!).subjectAltName).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');
      } finally {
        client.close();
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
    // With the server gone, the healthcheck fails (exit 1), naming what it could not reach.
    const down = await runCommand('setpriv', [...asImageUser, ...image.healthcheck], { cwd: workdir, env });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`127.0.0.1:${httpPort}/readyz: ECONNREFUSED`);
    expect(tmpFilesOf(image.user.uid).filter((f) => !tmpBefore.includes(f))).toEqual([]);
    expect(containsPrivateKeyArmour(server.stderr())).toBe(false);
  }, 120_000);
});

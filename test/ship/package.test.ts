/**
 * Issue #11 item 1: what `npm pack` ships and what an install of it can do, on a
 * machine that skipped optional dependencies and install scripts (no C++ toolchain,
 * no vendor SDKs, no tsx, no grpc-js-xds).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { containsPrivateKeyArmour, privateKeyBlocks, splitPem } from '../helpers/pki.js';
import { httpGet, packAndInstall, repoRoot, runCommand, startServer, type PackedInstall } from '../helpers/packed.js';

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
  return [...compiled, ...docs, ...tracked('protos'), 'package.json', 'README.md', 'LICENSE', 'SECURITY.md'].sort();
}

describe('npm pack', () => {
  it('ships exactly the compiled code with declaration files, the protos, the licence and the docs', () => {
    expect(packed.files).toEqual(expectedFiles());
  });

  it('contains the vendored Envoy protos with their licence, and nothing of tests, benches, CI or maps', () => {
    expect(packed.files).toContain('protos/third_party/envoy-api/envoy/service/secret/v3/sds.proto');
    expect(packed.files).toContain('protos/third_party/LICENSE');
    expect(packed.files.filter((f) => /^(test|bench|\.ci|scripts|deploy)\/|\.map$|\.tsbuildinfo$|(?<!\.d)\.ts$/.test(f))).toEqual([]);
  });
});

describe('installed with --omit=optional --ignore-scripts', () => {
  it('has no TypeScript loader, no grpc-js-xds and no vendor SDK at run time', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(packed.packageDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      optionalDependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies)).not.toEqual(expect.arrayContaining(['tsx']));
    expect(Object.keys(manifest.dependencies)).not.toContain('@grpc/grpc-js-xds');
    expect(Object.keys(manifest.optionalDependencies).sort()).toEqual(['@aws-sdk/client-acm-pca', 'node-vault', 'pkcs11js']);
    for (const absent of ['tsx', '@grpc/grpc-js-xds', 'pkcs11js', 'node-vault', '@aws-sdk/client-acm-pca']) {
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
    ['vault', 'node-vault', 'address: https://vault.example:8200\n    auth: { method: token }'],
    ['aws-acm-pca', '@aws-sdk/client-acm-pca', 'caArn: arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555'],
    ['pkcs11', 'pkcs11js', 'module: /usr/lib/softhsm/libsofthsm2.so\n    tokenLabel: ca\n    keyLabel: ca\n    certLabel: ca\n    pinEnv: HSM_PIN'],
  ])('a configured %s upstream without %s exits 3 naming the package', async (plugin, pkg, config) => {
    const file = path.join(packed.dir, `${plugin}.yaml`);
    fs.writeFileSync(file, `upstream:\n  plugin: ${plugin}\n  config:\n    ${config}\n`);
    const r = await workloadCa('upstream', 'check', '-c', file);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toContain(`needs the npm package ${pkg}, which is not installed`);
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

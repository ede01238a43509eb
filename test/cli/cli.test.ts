import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { promisify } from 'node:util';
import { describe, it, expect } from 'vitest';
import { opensslVerify, splitPem, privateKeyBlocks, containsPrivateKeyArmour } from '../helpers/pki.js';
import { makeCsr } from '../fakes/csr.js';
import { hasTools } from '../helpers/tools.js';
import { runMain } from './in-process.js';
import { cliEntry } from '../helpers/test-build.js';

const root = path.resolve(import.meta.dirname, '../..');
const runFile = promisify(execFile);

/** A real `workload-ca` process, for what only a process shows (its version from the bin, the entry check). */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [cliEntry, ...args], { cwd: root, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}


describe('workload-ca issue', () => {
  it.runIf(hasTools('openssl'))('prints the chain, the PKCS#8 key and the bundle it chains to', async () => {
    const r = await runMain('issue', '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--dns', 'b.a.svc', '--ttl', '10m');
    expect(r.code).toBe(0);
    const certs = splitPem(r.stdout);
    expect(certs).toHaveLength(3);
    expect(privateKeyBlocks(r.stdout)).toHaveLength(1);
    const chain = certs.slice(0, 2).join('');
    const bundle = certs[2]!;
    expect((await opensslVerify(chain, bundle, 'sslserver')).ok).toBe(true);
    expect((await opensslVerify(chain, bundle, 'sslclient')).ok).toBe(true);
  });

  it('signs a CSR from a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-cli-'));
    const file = path.join(dir, 'req.csr');
    fs.writeFileSync(file, makeCsr().pem);
    const r = await runMain('issue', '--spiffe-id', 'spiffe://cluster.local/vm/1', '--csr', file);
    expect(r.code).toBe(0);
    expect(containsPrivateKeyArmour(r.stdout)).toBe(false);
    expect(splitPem(r.stdout)).toHaveLength(3);
  });

  it.each([
    [['issue'], 2, /required option '--spiffe-id <id>' not specified/],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/a//b'], 2, /invalid SPIFFE ID .*empty segments/],
    [['issue', '--spiffe-id', 'spiffe://other.td/x'], 2, /not in trust domain "cluster.local"/],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--ttl', 'soon'], 2, /--ttl: "soon" is not a duration/],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--ttl', '0'], 2, /--ttl: "0" must be from 1s to 4h/],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--key-type', 'dsa'], 2, /argument 'dsa' is invalid/],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--dns', 'bad..name'], 2, /invalid DNS name/],
    [['issue', '--spiffe-id', 'spiffe://cluster.local/x', '--csr', '/nonexistent.csr'], 2, /cannot read --csr/],
    [['frobnicate'], 2, /unknown command 'frobnicate'/],
    [['serve', '--config', '/nonexistent.yaml'], 3, /cannot read config file/],
    [['serve', '--sds-listen', 'nowhere'], 2, /--sds-listen: "nowhere": expected host:port/],
  ])('%j exits %i with a clear message', async (args, code, message) => {
    const r = await runMain(...args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(containsPrivateKeyArmour(r.stdout)).toBe(false);
  });

  it('refuses a bad upstream config before listening, naming plugin, key and problem (exit 3)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-cli-'));
    const file = path.join(dir, 'bad-upstream.yaml');
    fs.writeFileSync(file, `profile: production\nupstream:\n  plugin: vault\n  config:\n    address: https://vault.example:8200\n    auth: { method: approle }\nlisten:\n  sds: 127.0.0.1:0\n  http: 127.0.0.1:0\n  admin: unix:${dir}/admin.sock\n`);
    const r = await runMain('serve', '--config', file);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/upstream "vault": config\.auth\.roleId/);
    expect(r.stdout).not.toContain('serving');
    expect(fs.existsSync(path.join(dir, 'admin.sock'))).toBe(false);
  });

  it('runs when started through a symlink, as npm links the workload-ca bin', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-bin-'));
    const link = path.join(dir, 'workload-ca');
    fs.symlinkSync(cliEntry, link);
    const { stdout } = await runFile(process.execPath, [link, 'version'], { cwd: root, timeout: 60_000 });
    expect(stdout).toMatch(/^workload-ca \d+\.\d+\.\d+/);
  });

  it('prints its version', async () => {
    const r = await cli('version');
    expect(r.code).toBe(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout).toContain(`workload-ca ${pkg.version}`);
  });
});

describe('workload-ca serve (dev profile)', () => {
  it('prints where it listens and the bundle fingerprint, serves health and metrics, and stops on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-serve-'));
    const child = spawn(
      process.execPath,
      [cliEntry, 'serve', '--sds-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--admin-listen', `unix:${dir}/admin.sock`],
      { cwd: root, env: { ...process.env, WCA_CONFIG: '' } },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        if (/root\s+sha256/.test(stdout)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
    });
    try {
      await ready;
      expect(stderr).toMatch(/DEVELOPMENT PROFILE/);
      const httpAddr = /http\s+127\.0\.0\.1:(\d+)/.exec(stdout)![1];
      // --sds-listen 127.0.0.1:0: the banner names the port the kernel gave, and where the example is.
      const sdsPort = /sds\s+127\.0\.0\.1:(\d+)/.exec(stdout)![1];
      expect(Number(sdsPort)).toBeGreaterThan(0);
      expect(stdout).toContain(`point Envoy's workload_ca_sds cluster at 127.0.0.1:${sdsPort}`);
      expect(stdout).toContain(`-e 's/WCA_SDS_PORT/${sdsPort}/' '${path.join(root, 'examples/envoy/sds-dev.yaml')}' > envoy.yaml`);
      expect(stdout).toMatch(/root\s+sha256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      const get = (p: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          http.get(`http://127.0.0.1:${httpAddr}${p}`, (res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
          }).on('error', reject);
        });
      expect(await get('/healthz')).toMatchObject({ status: 200 });
      expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
      const metrics = await get('/metrics');
      expect(metrics.body).toContain('wca_intermediate_not_after_timestamp_seconds{slot="active"}');
      expect(await get('/nope')).toMatchObject({ status: 404 });
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(containsPrivateKeyArmour(stderr)).toBe(false);
  });
});

describe('workload-ca healthcheck', () => {
  /** An HTTP listener standing in for the server: answers `status` to /readyz, or never answers. */
  async function withHealthServer(answer: { status: number; body: string } | 'hang', run: (addr: string) => Promise<void>) {
    const server = http.createServer((req, res) => {
      if (answer === 'hang') return;
      res.writeHead(req.url === '/readyz' ? answer.status : 404).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run(`127.0.0.1:${(server.address() as { port: number }).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('exits 0 on 200 from /readyz', async () => {
    await withHealthServer({ status: 200, body: 'ready\n' }, async (addr) => {
      const r = await runMain('healthcheck', '--http-listen', addr);
      expect(r).toMatchObject({ code: 0, stdout: `GET ${addr}/readyz: 200 ready\n` });
    });
  });

  it('exits 1 on 503, showing the status and the first line of the reason', async () => {
    await withHealthServer({ status: 503, body: 'not ready: no active intermediate\nmore\n' }, async (addr) => {
      const r = await runMain('healthcheck', '--http-listen', addr);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: GET ${addr}/readyz: 503 not ready: no active intermediate\n`);
    });
  });

  it('exits 1 when the server does not answer within --timeout', async () => {
    await withHealthServer('hang', async (addr) => {
      const r = await runMain('healthcheck', '--http-listen', addr, '--timeout', '1s');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no answer within 1000 ms');
    });
  });
});

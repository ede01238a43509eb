/**
 * A real OpenBao server for the vault plugin's tests: `bao server -dev` on a
 * free loopback port (HTTPS with its own CA when asked), in-memory storage,
 * stopped by its process ID. `admin()` is the operator's side (mounts,
 * policies, roles) over plain HTTP(S), so the plugin under test is the only
 * Vault client user. One server per test file (beforeAll) keeps files fast.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toolPath } from '../../helpers/tools.js';

export interface BaoAnswer {
  status: number;
  body: any;
  raw: string;
  bytes: Buffer;
}

export interface CallOptions {
  token?: string;
  namespace?: string;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** One call to a Vault-API server (real or fake) as given, without a client library. */
export function httpCall(
  address: string,
  method: string,
  apiPath: string,
  body?: unknown,
  options: CallOptions & { caPem?: string } = {},
): Promise<BaoAnswer> {
  const url = new URL(`/v1/${apiPath}`, address);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers['x-vault-token'] = options.token;
  if (options.namespace) headers['x-vault-namespace'] = options.namespace;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, timeout: 20_000, ...(options.caPem ? { ca: options.caPem } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const raw = bytes.toString('utf8');
        let parsed: unknown = undefined;
        try {
          parsed = raw ? JSON.parse(raw) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, raw, bytes });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export class OpenBao {
  /** The CA (PEM) of the server's TLS certificate, and its file, with `tls`. */
  caPem: string | undefined;
  caFile: string | undefined;

  private constructor(
    readonly address: string,
    readonly rootToken: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private output: () => string,
  ) {}

  static async start(options: { tls?: boolean } = {}): Promise<OpenBao> {
    const bin = toolPath('bao');
    if (!bin) throw new Error('bao is not installed (see test/helpers/tools.ts)');
    const dir = await mkdtemp(path.join(tmpdir(), 'wca-bao-'));
    const port = await freePort();
    const rootToken = `root-${randomBytes(12).toString('hex')}`;
    const args = ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'];
    if (options.tls) args.push('-dev-tls', `-dev-tls-cert-dir=${dir}`);
    // No VAULT_*/BAO_* from the developer's shell may leak into the server.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VAULT|BAO)_/.test(k)));
    const child = spawn(bin, args, { env: { ...env, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const bao = new OpenBao(`${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`, rootToken, child, dir, () => output);
    if (options.tls) {
      bao.caFile = path.join(dir, 'vault-ca.pem');
    }
    await bao.waitReady();
    return bao;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`bao exited (${this.child.exitCode}): ${this.output()}`);
      try {
        if (this.caFile && !this.caPem) this.caPem = await readFile(this.caFile, 'utf8');
        const health = await this.call('GET', 'sys/health');
        if (health.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`bao did not become ready within 30 s: ${this.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** One HTTP call to the server's API as given (no client library). */
  call(method: string, apiPath: string, body?: unknown, options: CallOptions = {}): Promise<BaoAnswer> {
    return httpCall(this.address, method, apiPath, body, { ...options, caPem: this.caPem });
  }

  /** As the root token; throws unless 2xx. */
  async admin(method: string, apiPath: string, body?: unknown, namespace?: string): Promise<BaoAnswer> {
    const answer = await this.call(method, apiPath, body, { token: this.rootToken, namespace });
    if (answer.status < 200 || answer.status > 299) throw new Error(`bao ${method} ${apiPath}: HTTP ${answer.status} ${answer.raw}`);
    return answer;
  }

  /** A PKI mount with an EC P-256 root issuer; returns the root PEM. */
  async rootMount(mount: string, options: { ttl?: string; maxTtl?: string; issuerName?: string; namespace?: string } = {}): Promise<string> {
    const ns = options.namespace;
    await this.admin('POST', `sys/mounts/${mount}`, { type: 'pki', config: { max_lease_ttl: options.maxTtl ?? '87600h' } }, ns);
    const root = await this.admin('POST', `${mount}/root/generate/internal`, {
      common_name: `${mount} root`, key_type: 'ec', key_bits: 256, ttl: options.ttl ?? '8760h', issuer_name: options.issuerName ?? 'root',
    }, ns);
    return root.body.data.certificate as string;
  }

  /** A PKI mount whose issuer `issuerName` is an intermediate signed by `rootMount`'s root; returns its PEM. */
  async intermediateMount(mount: string, rootMount: string, issuerName: string, rootPem: string): Promise<string> {
    await this.admin('POST', `sys/mounts/${mount}`, { type: 'pki', config: { max_lease_ttl: '87600h' } });
    const csr = await this.admin('POST', `${mount}/intermediate/generate/internal`, { common_name: `${mount} issuing CA`, key_type: 'ec', key_bits: 256 });
    const signed = await this.admin('POST', `${rootMount}/root/sign-intermediate`, {
      csr: csr.body.data.csr, common_name: `${mount} issuing CA`, ttl: '4380h', format: 'pem',
    });
    const cert = signed.body.data.certificate as string;
    const imported = await this.admin('POST', `${mount}/intermediate/set-signed`, { certificate: `${cert}\n${rootPem}` });
    const issuerId = (imported.body.data.imported_issuers as string[])[0]!;
    await this.admin('POST', `${mount}/issuer/${issuerId}`, { issuer_name: issuerName });
    return cert;
  }

  async policy(name: string, hcl: string, namespace?: string): Promise<void> {
    await this.admin('PUT', `sys/policies/acl/${name}`, { policy: hcl }, namespace);
  }

  /** A token with `policies` (no root); returns its ID. */
  async token(policies: string[], options: { ttl?: string; namespace?: string } = {}): Promise<string> {
    const created = await this.admin('POST', 'auth/token/create', { policies, ttl: options.ttl ?? '1h', renewable: true }, options.namespace);
    return created.body.auth.client_token as string;
  }

  /** AppRole mount `approle` with role `name`; returns its role ID and a secret ID. */
  async appRole(name: string, role: { policies: string[]; tokenTtl: string; tokenMaxTtl: string }): Promise<{ roleId: string; secretId: string }> {
    const mounts = await this.admin('GET', 'sys/auth');
    if (!mounts.body.data['approle/']) await this.admin('POST', 'sys/auth/approle', { type: 'approle' });
    await this.admin('POST', `auth/approle/role/${name}`, { token_policies: role.policies, token_ttl: role.tokenTtl, token_max_ttl: role.tokenMaxTtl });
    const roleId = (await this.admin('GET', `auth/approle/role/${name}/role-id`)).body.data.role_id as string;
    const secretId = (await this.admin('POST', `auth/approle/role/${name}/secret-id`, {})).body.data.secret_id as string;
    return { roleId, secretId };
  }

  async seal(): Promise<void> {
    await this.admin('PUT', 'sys/seal');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The least-privilege policy the plugin README documents, for `signPath`. */
export const signPolicy = (signPath: string, revokePath?: string) =>
  `path "${signPath}" { capabilities = ["update"] }\n` + (revokePath ? `path "${revokePath}" { capabilities = ["update"] }\n` : '');

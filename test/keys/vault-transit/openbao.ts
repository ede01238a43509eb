/**
 * A real OpenBao dev server per test file: in-memory storage, a free loopback
 * port, root token "ROOT", Transit mounted at transit/. Plus the two helpers a
 * real server cannot replace: a recording proxy in front of it (which paths the
 * process calls, how many calls), and a TCP server that never answers (a hang).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { toolPath } from '../../helpers/tools.js';
import { HttpTestServer, readBody } from '../../fakes/http-test-server.js';

export const ROOT_TOKEN = 'ROOT';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface OpenBao {
  address: string;
  /** With `tls`: the PEM file of the dev server's generated CA. */
  caFile?: string;
  /** Calls the HTTP API (root token unless given); returns status and parsed body. */
  api(method: string, path: string, body?: unknown, options?: { token?: string; namespace?: string }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

function request(url: string, method: string, headers: Record<string, string>, body: string | undefined, ca?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).request(url, { method, headers, ca, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function startOpenBao(options: { tls?: boolean } = {}): Promise<OpenBao> {
  const bao = toolPath('bao');
  if (!bao) throw new Error('bao not installed');
  const port = await freePort();
  const certDir = options.tls ? await mkdtemp(path.join(os.tmpdir(), 'wca-bao-tls-')) : undefined;
  const address = `${certDir ? 'https' : 'http'}://127.0.0.1:${port}`;
  const args = ['server', '-dev', `-dev-root-token-id=${ROOT_TOKEN}`, `-dev-listen-address=127.0.0.1:${port}`];
  if (certDir) args.push('-dev-tls', `-dev-tls-cert-dir=${certDir}`);
  const child: ChildProcess = spawn(bao, args, { stdio: 'ignore', env: { ...process.env, BAO_ADDR: address, VAULT_ADDR: address } });
  const caFile = certDir ? path.join(certDir, 'vault-ca.pem') : undefined;
  let ca: string | undefined;
  const api: OpenBao['api'] = async (method, apiPath, body, o = {}) => {
    const headers: Record<string, string> = { 'X-Vault-Token': o.token ?? ROOT_TOKEN, 'content-type': 'application/json' };
    if (o.namespace) headers['X-Vault-Namespace'] = o.namespace;
    const res = await request(`${address}/v1/${apiPath}`, method, headers, body === undefined ? undefined : JSON.stringify(body), ca);
    return { status: res.status, body: res.text ? JSON.parse(res.text) : undefined };
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if (caFile) ca ??= await readFile(caFile, 'utf8');
      if ((await api('GET', 'sys/health')).status === 200) break;
    } catch {
      // not listening (or no CA file) yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`OpenBao did not start on ${address}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const mounted = await api('POST', 'sys/mounts/transit', { type: 'transit' });
  if (mounted.status !== 204) throw new Error(`cannot mount transit: ${mounted.status}`);
  return {
    address,
    caFile,
    api,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (certDir) await rm(certDir, { recursive: true, force: true });
    },
  };
}

/** A real-server helper: forwards every request to `target` and records method and path. */
export class RecordingProxy extends HttpTestServer {
  readonly calls: { method: string; path: string; body: string }[] = [];
  /** Fake behaviour for deadline tests: requests whose path matches get no answer at all. */
  hang: RegExp | undefined;

  constructor(private readonly target: string) {
    super();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    this.calls.push({ method: req.method!, path: req.url!, body: body.toString('utf8') });
    if (this.hang?.test(req.url!)) return;
    const headers: Record<string, string> = {};
    for (const name of ['x-vault-token', 'x-vault-namespace', 'content-type']) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    const upstream = await fetch(`${this.target}${req.url}`, {
      method: req.method,
      headers,
      body: body.length > 0 ? body.toString("utf8") : undefined,
    });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  }

  callsTo(fragment: string): number {
    return this.calls.filter((c) => c.path.includes(fragment)).length;
  }
}

/** Fake for what no real server does on purpose: accepts connections and never answers a byte. */
export class NeverAnsweringServer {
  private server = net.createServer((s) => this.sockets.add(s));
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

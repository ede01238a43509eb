/**
 * A real OpenBao dev server per test file: in-memory storage, a free loopback
 * port, root token "ROOT", Transit mounted at transit/. Plus the two helpers a
 * real server cannot replace: a recording proxy in front of it (which paths the
 * process calls, how many calls), and a TCP server that never answers (a hang).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
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
  /** Calls the HTTP API with the root token; returns status and parsed body. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startOpenBao(): Promise<OpenBao> {
  const bao = toolPath('bao');
  if (!bao) throw new Error('bao not installed');
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(bao, ['server', '-dev', `-dev-root-token-id=${ROOT_TOKEN}`, `-dev-listen-address=127.0.0.1:${port}`], {
    stdio: 'ignore',
    env: { ...process.env, BAO_ADDR: address, VAULT_ADDR: address },
  });
  const api: OpenBao['api'] = async (method, path, body, token = ROOT_TOKEN) => {
    const res = await fetch(`${address}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const health = await fetch(`${address}/v1/sys/health`);
      if (health.status === 200) break;
    } catch {
      // not listening yet
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
    api,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
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

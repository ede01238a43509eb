/**
 * The vault plugin suite's real OpenBao (test/plugins/vault/openbao.ts) with
 * Transit mounted, plus the two helpers a real server cannot replace: a
 * recording proxy in front of it (which paths the process calls, how many
 * calls) and a TCP server that never answers (a hang).
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { OpenBao, type BaoAnswer } from '../../plugins/vault/openbao.js';
import { HttpTestServer, readBody } from '../../fakes/http-test-server.js';

export type TransitBao = OpenBao & {
  /** As the root token, whatever the answer (tests look at refusals too). */
  api(method: string, path: string, body?: unknown, options?: { token?: string; namespace?: string }): Promise<BaoAnswer>;
};

export async function startOpenBao(options: { tls?: boolean } = {}): Promise<TransitBao> {
  const bao = await OpenBao.start(options);
  await bao.admin('POST', 'sys/mounts/transit', { type: 'transit' });
  return Object.assign(bao, {
    api: (method: string, path: string, body?: unknown, o: { token?: string; namespace?: string } = {}) =>
      bao.call(method, path, body, { token: bao.rootToken, ...o }),
  });
}

/** A real-server helper: forwards every request to `target` and records method and path. */
export class RecordingProxy extends HttpTestServer {
  readonly calls: { method: string; path: string; body: string }[] = [];
  /** Fake behaviour for deadline tests: requests whose path matches get no answer at all. */
  hang: RegExp | undefined;
  /** Fake behaviour for deadline tests: the real answer to matching paths is sent one byte per 100 ms (a slow-loris). */
  trickle: RegExp | undefined;
  /** Fake behaviour for hostile-answer tests: rewrites the real server's answer body. */
  rewrite: ((path: string, body: string) => string) | undefined;

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
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (this.trickle?.test(req.url!)) return this.sendSlowly(res, answer);
    res.end(this.rewrite ? this.rewrite(req.url!, answer.toString('utf8')) : answer);
  }

  private sendSlowly(res: http.ServerResponse, answer: Buffer): void {
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= answer.length) return void (clearInterval(timer), res.end());
      res.write(answer.subarray(sent, ++sent));
    }, 100);
    res.on('close', () => clearInterval(timer));
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

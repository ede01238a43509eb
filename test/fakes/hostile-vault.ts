/**
 * A HOSTILE fake Vault, for what a real OpenBao cannot be made to do on purpose:
 * redirect every request to another host, trickle an answer one byte at a time,
 * stream an endless body, or echo what it was sent. Each request is recorded
 * (method, path, headers, body) so tests can prove what never left the client.
 */
import type http from 'node:http';
import { HttpTestServer, readBody } from './http-test-server.js';

export type HostileMode =
  | { kind: 'redirect'; status: number; location: string }
  | { kind: 'trickle'; intervalMs: number }
  | { kind: 'endless' }
  | { kind: 'answer'; status: number; body: string };

export interface HostileRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class HostileVault extends HttpTestServer {
  readonly requests: HostileRequest[] = [];
  /** Sockets still open that the server is writing to (trickle, endless): the client must close them. */
  openStreams = 0;

  constructor(public mode: HostileMode) {
    super();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = (await readBody(req)).toString('utf8');
    this.requests.push({ method: req.method ?? 'GET', path: new URL(req.url ?? '/', 'http://x').pathname, headers: req.headers, body });
    const mode = this.mode;
    switch (mode.kind) {
      case 'redirect':
        res.writeHead(mode.status, { location: mode.location });
        return void res.end();
      case 'answer':
        res.writeHead(mode.status, { 'content-type': 'application/json' });
        return void res.end(mode.body);
      case 'trickle':
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/json' });
        this.openStreams++;
        const chunk = mode.kind === 'endless' ? Buffer.alloc(64 * 1024, 0x20) : Buffer.from(' ');
        const timer = setInterval(() => res.write(chunk), mode.kind === 'endless' ? 1 : mode.intervalMs);
        res.write('{"data":');
        res.on('close', () => {
          clearInterval(timer);
          this.openStreams--;
        });
        return;
      }
    }
  }
}

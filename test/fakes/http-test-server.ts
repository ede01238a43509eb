/**
 * The part every local HTTP(S) test server shares: listen on 127.0.0.1, port 0,
 * track sockets so stop() never waits for a client that keeps a connection open
 * (or a request a test left hanging), and read request bodies with a size cap.
 * Subclasses only implement `handle`, their API.
 *
 *   class Echo extends HttpTestServer {
 *     protected async handle(req, res) { res.end(await readBody(req)); }
 *   }
 *   const server = await new Echo().start();   // server.url: http://127.0.0.1:<port>
 *   await server.stop();
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** Key and certificate (PEM) to serve HTTPS with. */
export interface TlsMaterial {
  key: string;
  cert: string;
}

/** Largest request body readBody accepts by default. */
const maxBodyBytes = 1024 * 1024;

class BodyTooLarge extends Error {
  readonly status = 413;
}

/** The whole request body; rejects (and the server answers 413) once it passes `limit` bytes. */
export async function readBody(req: http.IncomingMessage, limit = maxBodyBytes): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge(`request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export abstract class HttpTestServer {
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** With `tls`, the server speaks HTTPS; subclasses may set it before start(). */
  constructor(protected tls?: TlsMaterial) {}

  /** Answers one request. A rejection not answered yet becomes a plain-text 500 (413 for a body over the cap). */
  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): void | Promise<void>;

  /** scheme://127.0.0.1:<port>, once started. */
  get url(): string {
    if (!this.server) throw new Error('test server not started');
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
      Promise.resolve()
        .then(() => this.handle(req, res))
        .catch((err: unknown) => {
          if (res.headersSent) return void res.destroy();
          res.writeHead(err instanceof BodyTooLarge ? err.status : 500, { 'content-type': 'text/plain' });
          res.end(err instanceof Error ? err.message : String(err));
        });
    };
    const server = this.tls ? https.createServer(this.tls, listener) : http.createServer(listener);
    // 'connection' fires for the TCP socket, before any TLS handshake: nothing escapes stop().
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

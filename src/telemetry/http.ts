import http from 'node:http';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/listen.js';
import { listen, type Listening } from '../net/listen.js';

export interface HealthSource {
  /** null when ready, else the reason it is not. */
  notReadyReason(): string | null;
}

/** /metrics (Prometheus), /healthz (process alive), /readyz (can issue). Nothing else. */
export async function startHttpServer(options: { listen: ListenAddress; registry: Registry; health: HealthSource }): Promise<Listening> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, 'method not allowed\n');
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path === '/readyz') {
      const reason = options.health.notReadyReason();
      return reason === null ? send(res, 200, 'ready\n') : send(res, 503, `not ready: ${reason}\n`);
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (body) => send(res, 200, body, options.registry.contentType),
        () => send(res, 500, 'metrics unavailable\n'),
      );
      return;
    }
    send(res, 404, 'not found\n');
  });
  return listen(server, options.listen);
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

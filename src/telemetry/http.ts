import http from 'node:http';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/listen.js';
import { listen, type Listening } from '../net/listen.js';
import type { Readiness } from '../rotation/health.js';

export interface HealthSource {
  readiness(): Readiness;
}

const readyAnswer = (r: Readiness): [number, string] =>
  r.state === 'ready' ? [200, 'ready\n'] : r.state === 'degraded' ? [200, `ready, degraded: ${r.reason}\n`] : [503, `not ready: ${r.reason}\n`];

/** /metrics (Prometheus), /healthz (process alive), /readyz (can issue; 200 with the detail when degraded). Nothing else. */
export async function startHttpServer(options: { listen: ListenAddress; registry: Registry; health: HealthSource }): Promise<Listening> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, 'method not allowed\n');
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path === '/readyz') {
      return send(res, ...readyAnswer(options.health.readiness()));
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

import http from 'node:http';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../net/listen-address.js';
import { limits } from '../limits.js';
import { capConnections } from '../net/connection-cap.js';
import { listen, type Listening } from '../net/listen.js';
import type { ServingReport } from './serving-state.js';
import type { HttpConfig } from './config.js';
import type { Logger } from './logger.js';

export interface HealthSource {
  report(): ServingReport;
}

export interface HttpServerOptions {
  listen: ListenAddress;
  registry: Registry;
  health: HealthSource;
  /** Connection caps and timeouts (the `http:` section). */
  limits: HttpConfig;
  logger: Logger;
}

/** First line for probes and `healthcheck`; with ?verbose one line per check after it ("[+] sds: accepting connections"). */
function readyAnswer(r: ServingReport, verbose: boolean): [number, string] {
  const [status, head] =
    r.state === 'ready' ? [200, 'ready'] : r.state === 'degraded' ? [200, `ready, degraded: ${r.reason}`] : [503, `not ready: ${r.reason}`];
  const detail = verbose ? r.checks.map((c) => `[${c.ok ? '+' : '-'}] ${c.name}: ${c.detail}\n`).join('') : '';
  return [status, `${head}\n${detail}`];
}

/**
 * /metrics (Prometheus), /healthz (process alive), /readyz (every listener accepts,
 * an intermediate is active, not shutting down; 200 with the detail when degraded,
 * `?verbose` lists every check). Nothing else. Reachable by anyone who reaches the port, so
 * it holds few connections, briefly (issue #8 red team: idle and slow-header
 * connections exhausted the descriptors SDS and the admin socket need).
 */
export async function startHttpServer(options: HttpServerOptions): Promise<Listening> {
  const timeoutMs = options.limits.timeout * 1000;
  const metrics = cachedRendering(options.registry);
  const server = http.createServer(
    {
      headersTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      keepAliveTimeout: timeoutMs,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1000, timeoutMs),
    },
    (req, res) => {
      const [path, query = ''] = (req.url ?? '/').split('?');
      if (req.method !== 'GET') return send(res, 405, 'method not allowed\n');
      if (path === '/healthz') return send(res, 200, 'ok\n');
      if (path === '/readyz') {
        return send(res, ...readyAnswer(options.health.report(), new URLSearchParams(query).has('verbose')));
      }
      if (path === '/metrics') {
        metrics().then(
          (body) => send(res, 200, body, options.registry.contentType),
          () => send(res, 500, 'metrics unavailable\n'),
        );
        return;
      }
      send(res, 404, 'not found\n');
    },
  );
  // A connection that sends nothing at all is closed after this much silence too.
  server.timeout = timeoutMs;
  // A connection is busy from a complete request head until its response is out; any other may make room for a new one.
  const busy = new WeakSet<object>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    busy.add(req.socket);
    res.once('close', () => busy.delete(req.socket));
  });
  capConnections(
    server,
    { max: options.limits.maxConnections, perAddress: options.limits.perAddress },
    (address) => options.logger.debug({ address, limit: options.limits.perAddress }, 'http: too many connections from one address; closing the new one'),
    (socket) => !busy.has(socket),
  );
  return listen(server, options.listen);
}

/** The registry's rendering, reused for limits.metricsCacheMs (and shared while in flight): a scrape flood costs one rendering a second. */
function cachedRendering(registry: Registry): () => Promise<string> {
  let cached: { at: number; body: Promise<string> } | undefined;
  return () => {
    const now = performance.now();
    if (cached === undefined || now - cached.at >= limits.metricsCacheMs) {
      const body = registry.metrics();
      cached = { at: now, body };
      // A failed rendering is not kept: the next scrape tries again.
      body.catch(() => {
        if (cached?.body === body) cached = undefined;
      });
    }
    return cached.body;
  };
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

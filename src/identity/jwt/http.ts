import http from 'node:http';
import https from 'node:https';

export interface HttpJsonRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
  /** PEM CA bundle for https (the API server's CA); the system store otherwise. */
  ca?: string;
  timeoutMs: number;
  maxBytes: number;
}

export interface HttpJsonResponse {
  status: number;
  body: unknown;
}

/**
 * One JSON request with a whole-request deadline and a body size cap: a key
 * server that hangs or streams garbage must cost us a bounded wait, never memory.
 * Rejects with a plain Error whose message names the URL and what went wrong.
 */
export function httpJson(url: URL, request: HttpJsonRequest): Promise<HttpJsonResponse> {
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, {
      method: request.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
        ...request.headers,
      },
      ...(request.ca === undefined ? {} : { ca: request.ca }),
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
    timer.unref();
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(new Error(`${url.origin}${url.pathname}: ${err.message}`));
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxBytes) req.destroy(new Error(`response is larger than ${request.maxBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          fail(new Error(`HTTP ${res.statusCode}: response is not JSON`));
        }
      });
    });
    req.end(payload);
  });
}

/** plugins/README.md's worked example is the fixture file, and it really works through the loader. */
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUpstream } from '../../src/upstream/loader.js';
import { isWcaError, type ErrorCode } from '../../src/errors.js';
import { HttpTestServer, readBody } from '../fakes/http-test-server.js';
import { mintAndValidate, rejectionOf } from '../fakes/mint.js';
import { createTestRootCa, testPluginContext, type TestRootCa } from '../fakes/upstream-ca.js';
import { provesEndToEnd } from './leaf-check.js';
import { hasTools } from '../helpers/tools.js';

const fixture = fileURLToPath(new URL('../fixtures/upstream/http-ca-plugin.ts', import.meta.url));
const readme = fileURLToPath(new URL('../../plugins/README.md', import.meta.url));
const td = 'http.example';

/** The upstream the example plugin talks to: signs with a test CA, answers `status` when it is not 200. */
class HttpCa extends HttpTestServer {
  status = 200;

  constructor(private readonly ca: TestRootCa) {
    super();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = (await readBody(req)).toString('utf8');
    if (req.headers.authorization !== 'Bearer s3cret' || this.status !== 200) {
      res.writeHead(req.headers.authorization !== 'Bearer s3cret' ? 401 : this.status).end('{}');
      return;
    }
    const { csr, ttlSeconds, trustDomain } = JSON.parse(body) as { csr: string; ttlSeconds: number; trustDomain: string };
    const r = await this.ca.signCaCsr(csr, { ttlSeconds, uriSan: `spiffe://${trustDomain}` });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ certificate: r.certificatePem, chain: r.upstreamChainPem, roots: r.rootsPem }));
  }
}

let server: HttpCa;

beforeAll(async () => {
  server = await new HttpCa(await createTestRootCa({ subCaLevels: 1 })).start();
});

afterAll(async () => {
  await server.stop();
});

const load = (token = 's3cret') => loadUpstream({ plugin: fixture, config: { url: `${server.url}/sign` } }, testPluginContext({ env: { HTTP_CA_TOKEN: token } }));

describe('plugins/README.md worked example', () => {
  it('the README shows the fixture verbatim (modulo the package import path)', async () => {
    const text = await readFile(readme, 'utf8');
    const shown = /<!-- example:start[^>]*-->\n```ts\n([\s\S]*?)```\n<!-- example:end -->/.exec(text)?.[1];
    const code = (await readFile(fixture, 'utf8')).replaceAll("'../../../src/upstream/", "'workload-ca/upstream/");
    expect(shown).toBe(code);
  });

  it.runIf(hasTools('openssl'))('loads by module path, mints through a real HTTP round trip and passes validation, openssl and TLS', async () => {
    const upstream = await load();
    const { csr, validate } = await mintAndValidate(upstream, { trustDomain: td });
    const v = validate();
    expect(v.chainPem).toHaveLength(2);
    expect((await provesEndToEnd(csr.keys, v, td)).opensslOutput).toMatch(/: OK/);
  });

  it.each([
    { name: 'bad token', token: 'wrong', status: 200, code: 'ERR_UPSTREAM_AUTH' as ErrorCode },
    { name: 'throttled', token: 's3cret', status: 429, code: 'ERR_UPSTREAM_THROTTLED' as ErrorCode },
    { name: '503', token: 's3cret', status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' as ErrorCode },
  ])('maps $name to $code', async ({ token, status, code }) => {
    server.status = status;
    try {
      const upstream = await load(token);
      const err = await rejectionOf(mintAndValidate(upstream, { trustDomain: td }));
      expect(isWcaError(err, code), String(err)).toBe(true);
    } finally {
      server.status = 200;
    }
  });
});

/** plugins/README.md's worked example is the fixture file, and it really works through the loader. */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUpstream } from '../../src/upstream/loader.js';
import { validateMintResult } from '../../src/upstream/validate.js';
import { isWcaError, type ErrorCode } from '../../src/errors.js';
import { createCaCsr, createTestRootCa, testPluginContext, type TestRootCa } from '../fakes/upstream-ca.js';
import { provesEndToEnd } from './leaf-check.js';

const fixture = fileURLToPath(new URL('../fixtures/upstream/http-ca-plugin.ts', import.meta.url));
const readme = fileURLToPath(new URL('../../plugins/README.md', import.meta.url));
const td = 'http.example';
let ca: TestRootCa;
let server: http.Server;
let url: string;
let status = 200;

beforeAll(async () => {
  ca = await createTestRootCa({ subCaLevels: 1 });
  server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.headers.authorization !== 'Bearer s3cret' || status !== 200) {
      res.writeHead(req.headers.authorization !== 'Bearer s3cret' ? 401 : status).end('{}');
      return;
    }
    const { csr, ttlSeconds, trustDomain } = JSON.parse(body) as { csr: string; ttlSeconds: number; trustDomain: string };
    const r = await ca.signCaCsr(csr, { ttlSeconds, uriSan: `spiffe://${trustDomain}` });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ certificate: r.certificatePem, chain: r.upstreamChainPem, roots: r.rootsPem }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sign`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const load = (token = 's3cret') => loadUpstream({ plugin: fixture, config: { url } }, testPluginContext({ env: { HTTP_CA_TOKEN: token } }));

describe('plugins/README.md worked example', () => {
  it('the README shows the fixture verbatim (modulo the package import path)', async () => {
    const text = await readFile(readme, 'utf8');
    const shown = /<!-- example:start[^>]*-->\n```ts\n([\s\S]*?)```\n<!-- example:end -->/.exec(text)?.[1];
    const code = (await readFile(fixture, 'utf8')).replaceAll("'../../../src/upstream/", "'workload-ca/dist/src/upstream/");
    expect(shown).toBe(code);
  });

  it('loads by module path, mints through a real HTTP round trip and passes validation, openssl and TLS', async () => {
    const upstream = await load();
    const csr = await createCaCsr(td);
    const result = await upstream.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain: td, ttlSeconds: 3600 });
    const now = new Date();
    const v = validateMintResult(result, { publicKeySpkiDer: csr.spkiDer, trustDomain: td, requestedNotAfter: new Date(now.getTime() + 3600_000), now });
    expect(v.chainPem).toHaveLength(2);
    expect((await provesEndToEnd(csr.keys, v, td)).opensslOutput).toMatch(/: OK/);
  });

  it.each([
    { name: 'bad token', token: 'wrong', status: 200, code: 'ERR_UPSTREAM_AUTH' as ErrorCode },
    { name: 'throttled', token: 's3cret', status: 429, code: 'ERR_UPSTREAM_THROTTLED' as ErrorCode },
    { name: '503', token: 's3cret', status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' as ErrorCode },
  ])('maps $name to $code', async ({ token, status: s, code }) => {
    status = s;
    try {
      const upstream = await load(token);
      const csr = await createCaCsr(td);
      const err = await upstream.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain: td, ttlSeconds: 3600 }).catch((e: unknown) => e);
      expect(isWcaError(err, code), String(err)).toBe(true);
    } finally {
      status = 200;
    }
  });
});

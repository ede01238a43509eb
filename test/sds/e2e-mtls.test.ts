import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream, type DecodedSecret } from './envoy-client.js';
import { startHarness, type Harness } from './harness.js';
import { hasTools } from '../helpers/tools.js';

const run = promisify(execFile);
let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-sds-e2e-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What a workload's Envoy would hold after SDS: its own secret and the bundle. */
async function fetchOverSds(nodeId: string): Promise<{ own: DecodedSecret; bundle: DecodedSecret }> {
  const streams = ['default', 'ROOTCA'].map((name) => {
    const s = XdsStream.sotw(h.client());
    s.send({ node: envoyNode(nodeId), resource_names: [name], type_url: secretTypeUrl });
    return s;
  });
  const [own, bundle] = await Promise.all(streams.map(async (s) => decodeSecret((await s.next()).resources[0])));
  streams.forEach((s) => s.cancel());
  return { own: own!, bundle: bundle! };
}

const pemBlocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

describe('end to end: two workloads, SDS, then mutual TLS with exactly what SDS gave them', () => {
  it.runIf(hasTools('openssl'))('handshakes both ways and openssl verify accepts each chain', async () => {
    const [cart, shop] = await Promise.all([fetchOverSds('ns/shop/sa/cart'), fetchOverSds('ns/shop/sa/checkout')]);

    const server = tls.createServer({
      key: shop.own.privateKey,
      cert: shop.own.certificateChain,
      ca: shop.bundle.trustedCa,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    const seenByServer = new Promise<string | undefined>((resolve) =>
      server.on('secureConnection', (socket) => {
        resolve(socket.getPeerCertificate().subjectaltname);
        socket.end('hello');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const seenByClient = await new Promise<string | undefined>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        key: cart.own.privateKey,
        cert: cart.own.certificateChain,
        ca: cart.bundle.trustedCa,
        // SPIFFE identities live in the URI SAN, not a host name: check that instead.
        checkServerIdentity: () => undefined,
      });
      socket.on('secureConnect', () => resolve(socket.getPeerCertificate().subjectaltname));
      socket.on('error', reject);
      socket.on('data', () => socket.end());
    });
    server.close();
    expect(seenByClient).toBe('URI:spiffe://cluster.local/ns/shop/sa/checkout');
    expect(await seenByServer).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');

    for (const [name, workload] of [['cart', cart], ['checkout', shop]] as const) {
      const [leaf, ...intermediates] = pemBlocks(workload.own.certificateChain!);
      expect(intermediates.length).toBeGreaterThan(0);
      // Certificates only: private keys never touch the disk, not even in tests.
      await writeFile(path.join(dir, `${name}-leaf.pem`), leaf!);
      await writeFile(path.join(dir, `${name}-intermediates.pem`), intermediates.join(''));
      await writeFile(path.join(dir, `${name}-bundle.pem`), workload.bundle.trustedCa!);
      const { stdout } = await run('openssl', [
        'verify',
        '-x509_strict',
        '-purpose',
        'sslclient',
        '-CAfile',
        path.join(dir, `${name}-bundle.pem`),
        '-untrusted',
        path.join(dir, `${name}-intermediates.pem`),
        path.join(dir, `${name}-leaf.pem`),
      ]);
      expect(stdout.trim()).toMatch(/: OK$/);
    }
  });

  it('a workload without the bundle cannot complete the handshake (the check can fail)', async () => {
    const cart = await fetchOverSds('ns/shop/sa/cart');
    const server = tls.createServer({ key: cart.own.privateKey, cert: cart.own.certificateChain });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const error = await new Promise<Error>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, checkServerIdentity: () => undefined });
      socket.on('error', resolve);
      socket.on('secureConnect', () => resolve(new Error('unexpectedly trusted')));
    });
    server.close();
    expect((error as NodeJS.ErrnoException).code).toMatch(/UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED|UNABLE_TO_VERIFY/);
  });
});

describe('logs', () => {
  it('never contain key material, whatever the stream does', async () => {
    const { Writable } = await import('node:stream');
    const { pino } = await import('pino');
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    const logged = await startHarness({ authority: h.authority, logger: pino({ level: 'trace' }, sink) });
    try {
      const stream = XdsStream.sotw(logged.client());
      stream.send({ node: envoyNode('ns/log/sa/check'), resource_names: ['default'], type_url: secretTypeUrl });
      const res = await stream.next();
      const key = decodeSecret(res.resources[0]).privateKey!;
      stream.send({ version_info: '', resource_names: ['default'], type_url: secretTypeUrl, response_nonce: res.nonce, error_detail: { code: 3, message: 'rejected' } });
      stream.send({ version_info: '', resource_names: ['spiffe://cluster.local/other'], type_url: secretTypeUrl, response_nonce: res.nonce });
      await stream.status;
      const text = lines.join('');
      expect(text).toContain('NACK');
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(key.split('\n')[1]!);
    } finally {
      await logged.close();
    }
  });
});

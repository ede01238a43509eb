import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { startApp, type App } from '../src/app.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { connect, XdsStream, envoyNode, decodeSecret, secretTypeUrl } from './sds/envoy-client.js';
import { opensslVerify, splitPem } from './helpers/pki.js';

/** What `npm start` runs: the embedded dev profile, end to end over SDS. */
let app: App;
beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-app-'));
  const config = loadConfig({
    env: {},
    flags: { sdsListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', adminListen: `unix:${dir}/admin.sock` },
  });
  app = await startApp(config, { logger: silentLogger(), env: {} });
});
afterAll(() => app.close());

describe('dev profile (npm start)', () => {
  it('gives node.id "ns/shop/sa/cart" the SVID spiffe://cluster.local/ns/shop/sa/cart and the bundle over SDS', async () => {
    const client = connect(app.addresses.sds!);
    const stream = XdsStream.sotw(client);
    try {
      stream.send({ node: envoyNode('ns/shop/sa/cart'), type_url: secretTypeUrl, resource_names: ['default'] });
      const res = await stream.next();
      const secret = decodeSecret(res.resources[0]);
      expect(secret.name).toBe('default');
      const leaf = new crypto.X509Certificate(splitPem(secret.certificateChain!)[0]!);
      expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');
      expect(leaf.checkPrivateKey(crypto.createPrivateKey(secret.privateKey!))).toBe(true);
      expect((await opensslVerify(secret.certificateChain!, app.authority.bundle().pem, 'sslclient')).ok).toBe(true);

      const bundleStream = XdsStream.sotw(client);
      bundleStream.send({ node: envoyNode('ns/shop/sa/cart'), type_url: secretTypeUrl, resource_names: ['ROOTCA'] });
      const bundle = decodeSecret((await bundleStream.next()).resources[0]);
      expect(bundle.trustedCa).toBe(app.authority.bundle().pem);
      bundleStream.cancel();
    } finally {
      stream.cancel();
      client.close();
    }
  });

  it('rejects a node.id that names no SPIFFE ID with INVALID_ARGUMENT and keeps serving others', async () => {
    const client = connect(app.addresses.sds!);
    try {
      const bad = XdsStream.sotw(client);
      bad.send({ node: envoyNode('ns/shop//cart'), type_url: secretTypeUrl, resource_names: ['default'] });
      const status = await bad.status;
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toMatch(/empty segments/);
      const good = XdsStream.sotw(client);
      good.send({ node: envoyNode('ns/ok/sa/ok'), type_url: secretTypeUrl, resource_names: ['default'] });
      expect(decodeSecret((await good.next()).resources[0]).name).toBe('default');
      good.cancel();
    } finally {
      client.close();
    }
  });
});

describe('listeners on Unix sockets', () => {
  it('serves metrics on a 0600 Unix socket and removes it on close', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-unix-'));
    const config = loadConfig({
      env: {},
      flags: { sdsListen: '127.0.0.1:0', httpListen: `unix:${dir}/http.sock`, adminListen: `unix:${dir}/admin.sock` },
    });
    const unixApp = await startApp(config, { logger: silentLogger(), env: {} });
    try {
      for (const sock of ['http.sock', 'admin.sock']) expect(fs.statSync(path.join(dir, sock)).mode & 0o777).toBe(0o600);
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ socketPath: path.join(dir, 'http.sock'), path: '/readyz' }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(body).toBe('ready\n');
    } finally {
      await unixApp.close();
    }
    expect(fs.existsSync(path.join(dir, 'http.sock'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'admin.sock'))).toBe(false);
  });

  it('refuses to start when a listener cannot bind, and leaves nothing running', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-busy-'));
    fs.writeFileSync(path.join(dir, 'not-a-socket'), 'precious data');
    const config = loadConfig({
      env: {},
      flags: { sdsListen: '127.0.0.1:0', httpListen: `unix:${dir}/not-a-socket`, adminListen: `unix:${dir}/admin.sock` },
    });
    await expect(startApp(config, { logger: silentLogger(), env: {} })).rejects.toMatchObject({ code: 'ERR_LISTEN_ADDRESS' });
    expect(fs.readFileSync(path.join(dir, 'not-a-socket'), 'utf8')).toBe('precious data');
  });
});

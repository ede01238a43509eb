import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createDevAuthority } from '../src/app/dev-authority.js';
import { registerTokenCommand } from '../src/cli/commands/token.js';
import { loadConfig } from '../src/config/load.js';
import { startApp, type App } from '../src/app.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { connect, XdsStream, envoyNode, decodeSecret, secretTypeUrl } from './sds/envoy-client.js';
import { mutualTls, opensslVerify, splitPem } from './helpers/pki.js';
import { createTestRootCa, privateKeyPem } from './fakes/upstream-ca.js';
import { SdsTestClient, type ClientIdentity } from './identity/sds-client.js';
import { hasTools } from './helpers/tools.js';

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
  it.runIf(hasTools('openssl'))('gives node.id "ns/shop/sa/cart" the SVID spiffe://cluster.local/ns/shop/sa/cart and the bundle over SDS', async () => {
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

  it('reports a busy SDS port as a listen-address error (exit 3), not an internal one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-busy-'));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const config = loadConfig({ env: {}, flags: { sdsListen: `127.0.0.1:${port}`, httpListen: '127.0.0.1:0', adminListen: `unix:${dir}/admin.sock` } });
      await expect(startApp(config, { logger: silentLogger(), env: {} })).rejects.toMatchObject({ code: 'ERR_LISTEN_ADDRESS', exitCode: 3 });
    } finally {
      blocker.close();
    }
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

describe('production: a VM joins with a token and renews over mTLS on the one SDS listener', () => {
  const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';
  let prod: App;
  let dir: string;
  const clients: SdsTestClient[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-prod-'));
    // A production-allowed upstream: the disk plugin with a test root (certificate only in the file; the key file is test material).
    const root = await createTestRootCa({ name: 'VM Flow Test Root' });
    fs.writeFileSync(path.join(dir, 'root.pem'), root.rootPem);
    fs.writeFileSync(path.join(dir, 'root.key'), await privateKeyPem(root.rootKeys), { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, 'workload-ca.yaml'),
      [
        'profile: production',
        'trustDomain: cluster.local',
        `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
        'upstream: { plugin: disk, config: { certFile: root.pem, keyFile: root.key } }',
        // A node's cached key is dropped 1 s after its last stream, so a later reconnect is a real re-issue.
        'sds: { transport: mtls, idleTimeout: 1s }',
        'identity: { joinToken: { maxTtl: 1h, reuseWindow: 30s } }',
        '',
      ].join('\n'),
    );
    const config = loadConfig({ file: path.join(dir, 'workload-ca.yaml'), env: {} });
    expect(config.sds.transport).toBe('mtls');
    // Relative plugin file paths resolve from the config's folder.
    prod = await startApp(
      { ...config, upstream: { ...config.upstream, config: { certFile: path.join(dir, 'root.pem'), keyFile: path.join(dir, 'root.key') } } },
      { logger: silentLogger(), env: {}, configDir: dir },
    );
  });

  afterAll(async () => {
    clients.forEach((c) => c.close());
    await prod?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A client of the one SDS listener: server-authenticated TLS, optionally presenting an SVID. */
  const vm = (identity?: ClientIdentity) => {
    const client = new SdsTestClient(prod.addresses.sds!, prod.authority.bundle().pem, SERVER_ID, identity);
    clients.push(client);
    return client;
  };

  /** `workload-ca token create` as the CLI runs it, against the app's admin socket. */
  async function tokenCreate(spiffeId: string, dns: string): Promise<string> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const program = new Command().exitOverride();
    registerTokenCommand(program, { stdout: { write: (text: string) => stdout.push(text) }, stderr: { write: (text: string) => stderr.push(text) } });
    await program.parseAsync(['token', 'create', '--spiffe-id', spiffeId, '--ttl', '10m', '--dns', dns, '--admin-socket', prod.addresses.admin!], { from: 'user' });
    const token = stdout.join('').trim();
    expect(token).toMatch(/^wcajt_[A-Za-z0-9_-]{43}$/);
    expect(stderr.join('')).not.toContain(token);
    return token;
  }

  it.runIf(hasTools('openssl'))('serves the whole join-then-renew story, refuses reuse and foreign SVIDs, and keeps serving others', async () => {
    expect(prod.addresses.sds).toMatch(/^127\.0\.0\.1:\d+$/);

    // Another machine joins first and keeps a StreamSecrets stream open throughout.
    const otherToken = await tokenCreate('spiffe://cluster.local/vm/web-1', 'web-1.vm.internal');
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${otherToken}`);
    const tlsOnly = grpc.credentials.createSsl(Buffer.from(prod.authority.bundle().pem), null, null, {
      checkServerIdentity: (_host, cert) => (cert.subjectaltname === `URI:${SERVER_ID}` ? undefined : new Error(`server is ${cert.subjectaltname}`)),
    });
    const bystanderClient = connect(prod.addresses.sds!, tlsOnly);
    const bystander = XdsStream.sotw(bystanderClient, metadata);
    try {
      bystander.send({ node: envoyNode('web-1'), type_url: secretTypeUrl, resource_names: ['default'] });
      const first = await bystander.next();
      expect(new crypto.X509Certificate(splitPem(decodeSecret(first.resources[0]).certificateChain!)[0]!).subjectAltName).toContain(
        'URI:spiffe://cluster.local/vm/web-1',
      );
      bystander.send({ type_url: secretTypeUrl, resource_names: ['default'], version_info: first.version_info, response_nonce: first.nonce });

      // (1) + (2): the operator mints a token; the VM connects WITHOUT a client certificate and presents it.
      const token = await tokenCreate('spiffe://cluster.local/vm/db-1', 'db-1.vm.internal');
      const joining = vm();
      const joined = await joining.fetch('default', `Bearer ${token}`);
      expect(joined).toMatchObject({ spiffeIds: ['spiffe://cluster.local/vm/db-1'], dnsNames: ['db-1.vm.internal'] });
      const rootca = await joining.fetchSecret('ROOTCA', `Bearer ${token}`);
      expect(rootca.name).toBe('ROOTCA');
      expect(rootca.validation_context).toBeDefined();

      // (4) The spent token from another machine is refused.
      const reuse = await joining.fetch('default', `Bearer ${token}`, 'attacker-node').catch((e: unknown) => e);
      expect(reuse).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/^join token [0-9a-f]{16} was already used$/) });

      // (3) Later (the node's cached key is gone, the token is spent) the VM reconnects to the SAME
      // listener presenting the SVID it received, without any token, and gets a freshly issued one.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const renewing = vm(joined);
      const renewed = await renewing.fetch('default');
      expect(renewed).toMatchObject({ spiffeIds: ['spiffe://cluster.local/vm/db-1'], dnsNames: ['db-1.vm.internal'] });
      expect(renewed.serial).not.toBe(joined.serial);
      // mTLS renewal is bound to its own ID.
      expect(await renewing.fetch('spiffe://cluster.local/vm/db-2').catch((e: unknown) => e)).toMatchObject({ code: grpc.status.PERMISSION_DENIED });

      // The renewed SVID works: openssl accepts it as a TLS client and server certificate, and it completes a real mutual TLS handshake.
      const bundlePem = prod.authority.bundle().pem;
      for (const purpose of ['sslclient', 'sslserver'] as const) {
        const verdict = await opensslVerify(renewed.chainPem, bundlePem, purpose);
        expect(verdict, verdict.output).toMatchObject({ ok: true });
      }
      const handshake = await mutualTls({ ...renewed, bundlePem }, { ...joined, bundlePem });
      expect(handshake).toEqual({ serverSawClient: 'spiffe://cluster.local/vm/db-1', clientSawServer: 'spiffe://cluster.local/vm/db-1' });

      // (5) An SVID of the same ID from another root is UNAUTHENTICATED, even with a fresh, valid join token alongside...
      const foreignCa = await createDevAuthority({ trustDomain: 'cluster.local', signers: 1 });
      let foreign: ClientIdentity;
      try {
        foreign = await foreignCa.issue({ spiffeId: 'spiffe://cluster.local/vm/db-1' });
      } finally {
        await foreignCa.close();
      }
      const freshToken = await tokenCreate('spiffe://cluster.local/vm/db-3', 'db-3.vm.internal');
      const impostor = vm(foreign);
      for (const authorization of [undefined, `Bearer ${freshToken}`]) {
        const denied = await impostor.fetch('default', authorization, 'db-3').catch((e: unknown) => e);
        expect(denied).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('refused by RFC 5280 path validation') });
      }
      // ...and that token was never looked at: it is still unspent and works for a machine without a bad certificate.
      expect(await vm().fetch('default', `Bearer ${freshToken}`, 'db-3')).toMatchObject({ spiffeIds: ['spiffe://cluster.local/vm/db-3'] });

      // (6) Throughout, the server kept serving: the renewing VM still renews, and the bystander's stream is open and answers.
      expect((await renewing.fetch('default')).spiffeIds).toEqual(['spiffe://cluster.local/vm/db-1']);
      bystander.send({ type_url: secretTypeUrl, resource_names: ['default', 'ROOTCA'], version_info: first.version_info, response_nonce: first.nonce });
      const still = await bystander.next();
      expect(still.resources.map((r: any) => decodeSecret(r).name).sort()).toEqual(['ROOTCA', 'default']);
    } finally {
      bystander.cancel();
      bystanderClient.close();
    }
  });
});

/**
 * `serve` with `ca.keyManager: vault-transit` against a real OpenBao: an
 * Envoy-like SDS client gets an SVID whose intermediate is Transit's key and
 * whose chain OpenSSL accepts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { hasTools } from '../../helpers/tools.js';
import { opensslVerify, splitPem } from '../../helpers/pki.js';
import { loadConfig } from '../../../src/config/load.js';
import { startApp, type App } from '../../../src/app.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { connect, XdsStream, envoyNode, decodeSecret, secretTypeUrl } from '../../sds/envoy-client.js';
import { startOpenBao, type TransitBao } from './openbao.js';

describe.runIf(hasTools('bao', 'openssl'))('serve with keyManager vault-transit (real OpenBao)', () => {
  let bao: TransitBao;
  let app: App;
  beforeAll(async () => {
    bao = await startOpenBao();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-transit-'));
    const file = path.join(dir, 'workload-ca.yaml');
    fs.writeFileSync(
      file,
      [
        'ca:',
        '  keyManager:',
        '    type: vault-transit',
        `    address: ${bao.address}`,
        '    keyName: workload-ca-serve',
        '    auth: { method: token, token: { env: TRANSIT_TOKEN } }',
        '    batch: { maxSize: 64, maxDelayMs: 2 }',
      ].join('\n'),
    );
    const config = loadConfig({
      file,
      env: {},
      flags: { sdsListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', adminListen: `unix:${dir}/admin.sock` },
    });
    app = await startApp(config, { logger: silentLogger(), env: { TRANSIT_TOKEN: bao.rootToken } });
  }, 30_000);
  afterAll(async () => {
    await app?.close();
    await bao?.stop();
  });

  it('an SDS client gets an SVID signed through Transit that openssl verifies to the bundle', async () => {
    const client = connect(app.addresses.sds!);
    const stream = XdsStream.sotw(client);
    try {
      stream.send({ node: envoyNode('ns/shop/sa/cart'), type_url: secretTypeUrl, resource_names: ['default'] });
      const secret = decodeSecret((await stream.next()).resources[0]);
      const [leafPem, intermediatePem] = splitPem(secret.certificateChain!);
      const leaf = new crypto.X509Certificate(leafPem!);
      expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');
      expect(leaf.checkPrivateKey(crypto.createPrivateKey(secret.privateKey!))).toBe(true);
      expect((await opensslVerify(secret.certificateChain!, app.authority.bundle().pem, 'sslclient')).ok).toBe(true);

      const key = (await bao.api('GET', 'transit/keys/workload-ca-serve')).body.data;
      const transitPublic = crypto.createPublicKey(key.keys[String(key.latest_version)].public_key);
      expect(new crypto.X509Certificate(intermediatePem!).publicKey.equals(transitPublic)).toBe(true);
      expect(key.exportable).toBe(false);
      const calls = await app.metrics.registry.getSingleMetricAsString('wca_key_sign_calls_total');
      expect(calls).toMatch(/wca_key_sign_calls_total\{key_manager="vault-transit",outcome="ok"\} [1-9]/);
    } finally {
      stream.cancel();
      client.close();
    }
  });
});

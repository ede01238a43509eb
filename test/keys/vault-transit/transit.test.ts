/**
 * The vault-transit key manager against a real OpenBao: the intermediate key
 * lives in Transit, leaves and the intermediate's CSR are signed there, and the
 * results verify with OpenSSL.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { hasTools } from '../../helpers/tools.js';
import { opensslVerify, splitPem } from '../../helpers/pki.js';
import { createDevAuthority } from '../../../src/app/dev-authority.js';
import { isWcaError } from '../../../src/errors.js';
import { makeCsr } from '../../fakes/csr.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { startOpenBao, RecordingProxy, NeverAnsweringServer, type TransitBao } from './openbao.js';
import { transitKeyManager } from './harness.js';

const spiffeId = 'spiffe://cluster.local/ns/shop/sa/cart';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe.runIf(hasTools('bao', 'openssl'))('vault-transit key manager (real OpenBao)', () => {
  let bao: TransitBao;
  let proxy: RecordingProxy;
  /** A key manager through the recording proxy, with the root token unless the test gives another. */
  const managerFor = (overrides: Parameters<typeof transitKeyManager>[1] = {}, options: Partial<Parameters<typeof transitKeyManager>[2]> = {}) =>
    transitKeyManager(proxy.url, overrides, { token: bao.rootToken, ...options });
  beforeAll(async () => {
    bao = await startOpenBao();
    proxy = await new RecordingProxy(bao.address).start();
  }, 30_000);
  afterAll(async () => {
    await proxy?.stop();
    await bao?.stop();
  });

  async function transitAuthority(overrides = {}, options: Partial<Parameters<typeof transitKeyManager>[2]> = {}) {
    const keyManager = await managerFor(overrides, options);
    const authority = await createDevAuthority({ keyManager, clock: options.clock, intermediateTtlSeconds: 3600 });
    return { keyManager, authority, close: async () => (await authority.close(), await keyManager.close()) };
  }


  it('signs the intermediate CSR and every leaf through Transit; leaves verify with openssl -x509_strict to the root', async () => {
    const keyName = 'wca-verify';
    const { authority, close } = await transitAuthority({ keyName });
    try {
      const svid = await authority.issue({ spiffeId, dnsNames: ['cart.shop.svc'] });
      const fromCsr = await authority.issueForCsr({ spiffeId, csr: makeCsr().pem });
      for (const cert of [svid, fromCsr]) {
        const verified = await opensslVerify(cert.chainPem, authority.bundle().pem);
        expect(verified.output).toContain('OK');
        expect(verified.ok).toBe(true);
      }
      // The intermediate certifies Transit's key: its public key is the one Transit publishes.
      const key = await bao.api('GET', `transit/keys/${keyName}`);
      const transitPublic = crypto.createPublicKey(key.body.data.keys[String(key.body.data.latest_version)].public_key);
      const intermediate = new crypto.X509Certificate(splitPem(svid.chainPem)[1]!);
      expect(intermediate.publicKey.equals(transitPublic)).toBe(true);
      expect(key.body.data.type).toBe('ecdsa-p256');
    } finally {
      await close();
    }
  });

  it('creates the key non-exportable; the server refuses to export it and the process never calls an export or backup path', async () => {
    const keyName = 'wca-sealed';
    proxy.calls.length = 0;
    const { authority, close } = await transitAuthority({ keyName });
    try {
      await authority.issue({ spiffeId });
      await authority.prepareNext();
      authority.activateNext('test');
      await authority.issue({ spiffeId });
    } finally {
      await close();
    }
    const create = proxy.calls.find((c) => c.method === 'POST' && c.path === `/v1/transit/keys/${keyName}`);
    expect(JSON.parse(create!.body)).toMatchObject({ type: 'ecdsa-p256', exportable: false, allow_plaintext_backup: false });
    const key = await bao.api('GET', `transit/keys/${keyName}`);
    expect(key.body.data).toMatchObject({ exportable: false, allow_plaintext_backup: false });
    expect((await bao.api('GET', `transit/export/signing-key/${keyName}`)).status).toBe(400);
    expect((await bao.api('GET', `transit/backup/${keyName}`)).status).toBeGreaterThanOrEqual(400);
    const paths = proxy.calls.map((c) => c.path);
    expect(paths.length).toBeGreaterThan(0);
    // Everything the process asked Vault for, by kind: nothing that returns key material.
    for (const p of paths) {
      expect(p).toMatch(new RegExp(`^/v1/(auth/token/lookup-self|transit/keys/${keyName}(/rotate)?|transit/sign/${keyName})$`));
    }
  });

  it.each([
    { what: 'exportable', key: 'wca-exportable', params: { type: 'ecdsa-p256', exportable: true }, reason: 'exportable' },
    { what: 'with plaintext backup allowed', key: 'wca-backup', params: { type: 'ecdsa-p256', allow_plaintext_backup: true }, reason: 'exportable' },
    { what: 'of another type', key: 'wca-rsa', params: { type: 'rsa-2048' }, reason: 'key-type' },
  ])('refuses an existing key $what (ERR_UPSTREAM_CONFIG, reason $reason) before any signing', async ({ key, params, reason }) => {
    await bao.api('POST', `transit/keys/${key}`, params);
    const keyManager = await managerFor({ keyName: key });
    proxy.calls.length = 0;
    try {
      const err = await rejection(keyManager.generateKey('ec-p256'));
      expect(isWcaError(err, 'ERR_UPSTREAM_CONFIG')).toBe(true);
      expect((err as { details: { reason: string } }).details.reason).toBe(reason);
      expect(proxy.callsTo('/transit/sign/') + proxy.callsTo('/rotate')).toBe(0);
    } finally {
      await keyManager.close();
    }
  });

  it('batches: 40 concurrent leaves share one transit/sign call; with batching off each leaf is its own call', async () => {
    for (const [batch, expectedCalls] of [
      [{ maxSize: 100, maxDelayMs: 200 }, 1],
      [{ maxSize: 1, maxInFlight: 8 }, 40],
    ] as const) {
      const keyName = `wca-batch-${expectedCalls}`;
      const { authority, close } = await transitAuthority({ keyName, batch });
      try {
        proxy.calls.length = 0;
        const leaves = await Promise.all(Array.from({ length: 40 }, (_, i) => authority.issue({ spiffeId: `${spiffeId}${i}` })));
        expect(proxy.callsTo(`/transit/sign/${keyName}`)).toBe(expectedCalls);
        expect(new Set(leaves.map((l) => l.serial)).size).toBe(40);
        expect((await opensslVerify(leaves[39]!.chainPem, authority.bundle().pem)).ok).toBe(true);
      } finally {
        await close();
      }
    }
  });

  it('rotation: each intermediate signs with a new key version; old versions are trimmed only once their leaves have expired', async () => {
    const keyName = 'wca-rotate';
    const clock = new FakeClock(Date.now());
    const { authority, close } = await transitAuthority({ keyName }, { clock });
    const keyInfo = async () => (await bao.api('GET', `transit/keys/${keyName}`)).body.data;
    try {
      expect((await keyInfo()).latest_version).toBe(1);
      const first = await authority.issue({ spiffeId });
      clock.advance(40 * 60_000);
      await authority.prepareNext();
      authority.activateNext('scheduled');
      expect((await keyInfo()).latest_version).toBe(2);
      // v1's intermediate (and so its leaves) is still valid: nothing trimmed.
      expect((await keyInfo()).min_available_version).toBe(0);
      const second = await authority.issue({ spiffeId });
      const intermediates = [first, second].map((c) => new crypto.X509Certificate(splitPem(c.chainPem)[1]!));
      expect(intermediates[0]!.publicKey.equals(intermediates[1]!.publicKey)).toBe(false);

      clock.advance(40 * 60_000); // v1's intermediate expired 20 minutes ago; v2's still runs
      await authority.prepareNext();
      const info = await keyInfo();
      expect(info.latest_version).toBe(3);
      expect(info.min_available_version).toBe(2);
      expect(Object.keys(info.keys).sort()).toEqual(['2', '3']);
      // The active intermediate (v2) still signs after the trim.
      expect(new crypto.X509Certificate(splitPem((await authority.issue({ spiffeId })).chainPem)[0]!).verify(intermediates[1]!.publicKey)).toBe(true);
    } finally {
      await close();
    }
  });

  it('an existing key gets a new version at start; versions of an earlier run are kept for one intermediate lifetime', async () => {
    const keyName = 'wca-restart';
    await bao.api('POST', `transit/keys/${keyName}`, { type: 'ecdsa-p256' });
    const clock = new FakeClock(Date.now());
    const keyManager = await managerFor({ keyName }, { clock, intermediateTtlSeconds: 3600 });
    try {
      const first = await keyManager.generateKey('ec-p256');
      expect(first.id).toBe(`transit:${keyName}:v2`);
      expect(first.keyObject).toBeUndefined(); // nothing private in the process: signing goes to Transit
      keyManager.retainUntil(first, clock.now() + 3600_000);
      clock.advance(30 * 60_000);
      const second = await keyManager.generateKey('ec-p256');
      keyManager.retainUntil(second, clock.now() + 3600_000);
      expect((await bao.api('GET', `transit/keys/${keyName}`)).body.data.min_available_version).toBe(0);
      clock.advance(31 * 60_000); // past the earlier run's horizon and v2's retention, not v3's
      await keyManager.generateKey('ec-p256');
      expect((await bao.api('GET', `transit/keys/${keyName}`)).body.data.min_available_version).toBe(3);
    } finally {
      await keyManager.close();
    }
  });

  it('a bad token fails with ERR_UPSTREAM_AUTH naming the lookup, and no key is made', async () => {
    const keyManager = await managerFor({ keyName: 'wca-denied' }, { token: 'not-a-token' });
    try {
      const err = await rejection(keyManager.generateKey('ec-p256'));
      expect(isWcaError(err, 'ERR_UPSTREAM_AUTH')).toBe(true);
      expect((err as Error).message).toContain('auth/token/lookup-self');
      expect((await bao.api('GET', 'transit/keys/wca-denied')).status).toBe(404);
    } finally {
      await keyManager.close();
    }
  });

  it('a policy without sign capability: the first signature fails with ERR_UPSTREAM_DENIED', async () => {
    const keyName = 'wca-nosign';
    await bao.policy('no-sign', `path "transit/keys/${keyName}" { capabilities = ["create", "read", "update"] }\npath "transit/keys/${keyName}/*" { capabilities = ["update"] }`);
    const token = await bao.token(['no-sign']);
    const keyManager = await managerFor({ keyName }, { token });
    try {
      const key = await keyManager.generateKey('ec-p256');
      const err = await rejection(key.sign(Buffer.from('tbs')));
      expect(isWcaError(err, 'ERR_UPSTREAM_DENIED')).toBe(true);
    } finally {
      await keyManager.close();
    }
  });

  it('the least-privilege policy in docs/keys.md is enough to create, rotate, sign and trim', async () => {
    const doc = fs.readFileSync(new URL('../../../docs/keys.md', import.meta.url), 'utf8');
    const policy = /```hcl\n([\s\S]+?)```/.exec(doc)![1]!.replaceAll('workload-ca', 'wca-policy');
    await bao.policy('wca-doc', policy);
    const token = await bao.token(['wca-doc']);
    const clock = new FakeClock(Date.now());
    const keyManager = await managerFor({ keyName: 'wca-policy' }, { token, clock });
    try {
      const first = await keyManager.generateKey('ec-p256');
      keyManager.retainUntil(first, clock.now() + 60_000);
      expect((await first.sign(Buffer.from('tbs'))).length).toBeGreaterThan(8);
      clock.advance(120_000);
      await keyManager.generateKey('ec-p256');
      await keyManager.generateKey('ec-p256');
      expect((await bao.api('GET', 'transit/keys/wca-policy')).body.data.min_available_version).toBe(3);
    } finally {
      await keyManager.close();
    }
  });

  it('a trim the policy does not allow is logged and retried later, never fatal', async () => {
    const keyName = 'wca-notrim';
    await bao.policy('no-trim', `path "transit/keys/${keyName}" { capabilities = ["create", "read", "update"] }\npath "transit/keys/${keyName}/rotate" { capabilities = ["update"] }\npath "transit/sign/${keyName}" { capabilities = ["update"] }`);
    const warnings: string[] = [];
    const logger = silentLogger();
    logger.warn = ((...args: unknown[]) => void warnings.push(String(args[args.length - 1]))) as typeof logger.warn;
    const clock = new FakeClock(Date.now());
    const keyManager = await managerFor({ keyName }, { token: await bao.token(['no-trim']), clock, logger });
    try {
      const first = await keyManager.generateKey('ec-p256');
      keyManager.retainUntil(first, clock.now() + 60_000);
      clock.advance(120_000);
      const second = await keyManager.generateKey('ec-p256');
      expect((await second.sign(Buffer.from('tbs'))).length).toBeGreaterThan(8);
      expect(warnings.some((w) => w.includes('trimming old key versions failed'))).toBe(true);
      expect((await bao.api('GET', `transit/keys/${keyName}`)).body.data.min_available_version).toBe(0);
    } finally {
      await keyManager.close();
    }
  });

  it('logs in with AppRole through the vault upstream\'s auth code', async () => {
    await bao.policy('wca-approle', 'path "transit/*" { capabilities = ["create", "read", "update"] }');
    const { roleId, secretId } = await bao.appRole('wca', { policies: ['wca-approle'], tokenTtl: '1h', tokenMaxTtl: '2h' });
    const keyManager = await managerFor(
      { keyName: 'wca-approle', auth: { method: 'approle', roleId, secretId: { env: 'TEST_SECRET_ID' } } },
      { env: { TEST_SECRET_ID: secretId } },
    );
    proxy.calls.length = 0;
    try {
      const key = await keyManager.generateKey('ec-p256');
      expect((await key.sign(Buffer.from('tbs'))).length).toBeGreaterThan(8);
      expect(proxy.calls[0]!.path).toBe('/v1/auth/approle/login');
      const wrong = await managerFor(
        { keyName: 'wca-approle', auth: { method: 'approle', roleId, secretId: { env: 'TEST_SECRET_ID' } } },
        { env: { TEST_SECRET_ID: 'not-the-secret' } },
      );
      const err = await rejection(wrong.generateKey('ec-p256'));
      expect(isWcaError(err, 'ERR_UPSTREAM_AUTH')).toBe(true);
      expect((err as Error).message).not.toContain('not-the-secret');
      await wrong.close();
    } finally {
      await keyManager.close();
    }
  });

  it('hostile batch answers (fake rewrite of real answers): each bad item fails alone with a coded error, the rest are used', async () => {
    const keyManager = await managerFor({ keyName: 'wca-hostile', batch: { maxSize: 4, maxDelayMs: 50 } });
    try {
      const key = await keyManager.generateKey('ec-p256');
      proxy.rewrite = (path, body) => {
        if (!path.includes('/transit/sign/')) return body;
        const answer = JSON.parse(body);
        const results = answer.data.batch_results;
        results[1] = { error: 'simulated\n\t* failure', key_version: 0 };
        results[2].signature = results[2].signature.replace(/^vault:v\d+:/, 'vault:v99:');
        results[3].signature = 'vault:v1:!!!';
        return JSON.stringify(answer);
      };
      const outcomes = await Promise.all([0, 1, 2, 3].map((i) => key.sign(Buffer.from(`tbs ${i}`)).then((sig) => sig, (err: unknown) => err)));
      expect(Buffer.isBuffer(outcomes[0])).toBe(true);
      expect(isWcaError(outcomes[1], 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true);
      expect((outcomes[1] as Error).message).toContain('simulated * failure');
      expect(isWcaError(outcomes[2], 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true);
      expect(isWcaError(outcomes[3], 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true);

      proxy.rewrite = (path, body) => (path.includes('/transit/sign/') ? '{"data":{"batch_results":[]}}' : body);
      expect(isWcaError(await rejection(key.sign(Buffer.from('tbs'))), 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true);
    } finally {
      proxy.rewrite = undefined;
      await keyManager.close();
    }
  });

  it('every call has a deadline: a sign call that gets no answer fails with ERR_UPSTREAM_TIMEOUT, and the next one works', async () => {
    const keyManager = await managerFor({ keyName: 'wca-hang', requestTimeoutMs: 500 });
    try {
      const key = await keyManager.generateKey('ec-p256');
      proxy.hang = /\/transit\/sign\//;
      const started = Date.now();
      const err = await rejection(key.sign(Buffer.from('tbs')));
      expect(isWcaError(err, 'ERR_UPSTREAM_TIMEOUT')).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);
      proxy.hang = undefined;
      expect((await key.sign(Buffer.from('tbs'))).length).toBeGreaterThan(8);
    } finally {
      proxy.hang = undefined;
      await keyManager.close();
    }
  });

  it('a slow-loris sign answer ends at requestTimeoutMs in total: the batch slot is freed, readiness hears of it, signing recovers', async () => {
    // The deadline of the test above (two rounds of it): still five times the proxy's 100 ms between bytes, so a
    // deadline restarted by every byte would never fire.
    const keyManager = await managerFor({ keyName: 'wca-trickle', requestTimeoutMs: 500, batch: { maxSize: 4, maxDelayMs: 0, maxInFlight: 1 } });
    try {
      const key = await keyManager.generateKey('ec-p256');
      proxy.trickle = /\/transit\/sign\//;
      const started = Date.now();
      // Two rounds through the single in-flight slot: the first must give it back.
      for (const round of [1, 2]) {
        const err = await rejection(key.sign(Buffer.from(`tbs ${round}`)));
        expect(isWcaError(err, 'ERR_UPSTREAM_TIMEOUT')).toBe(true);
      }
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(keyManager.signingProblem?.()).toMatch(/^ERR_UPSTREAM_TIMEOUT: /);
      proxy.trickle = undefined;
      expect((await key.sign(Buffer.from('tbs'))).length).toBeGreaterThan(8);
      expect(keyManager.signingProblem?.()).toBeUndefined();
    } finally {
      proxy.trickle = undefined;
      await keyManager.close();
    }
  });
});

describe('vault-transit key manager deadlines (fake: a server that never answers)', () => {
  it('start-up against a silent server fails with ERR_UPSTREAM_TIMEOUT within the deadline', async () => {
    const silent = new NeverAnsweringServer();
    const url = await silent.start();
    const keyManager = await transitKeyManager(url, { requestTimeoutMs: 300 }, { token: 'unused' });
    try {
      const started = Date.now();
      const err = await rejection(keyManager.generateKey('ec-p256'));
      expect(isWcaError(err, 'ERR_UPSTREAM_TIMEOUT')).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await keyManager.close();
      await silent.stop();
    }
  });
});

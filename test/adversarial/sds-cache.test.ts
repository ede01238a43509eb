import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { systemClock } from '../../src/clock.js';
import { JoinTokenAuthenticator } from '../../src/identity/join-token/authenticator.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { JwtAuthenticator } from '../../src/identity/jwt/authenticator.js';
import { jwtConfigSchema } from '../../src/identity/jwt/config.js';
import { MtlsAuthenticator } from '../../src/identity/mtls.js';
import { policyConfigSchema } from '../../src/identity/policy/config.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { limits } from '../../src/limits.js';
import { SecretCache } from '../../src/sds/cache.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FakeIssuer, settle } from '../fakes/fake-issuer.js';
import { kubernetesClaims, sign, signingKey, TestIssuer, type SigningKey } from '../identity/jwt/fixtures.js';
import { TestPki } from '../identity/svids.js';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { startHarness, trustDomain, type Harness } from '../sds/harness.js';

/**
 * Issue #8, items 5 and 9: a private key belongs to one authenticated instance,
 * and what one credential can make the cache hold is bounded (node.id length,
 * node identities per instance, identities in all).
 */
let h: Harness;
let issuer: TestIssuer;
let key: SigningKey;
let joinTokens: JoinTokenStore;
/** How long a closed stream's key is kept; the last test waits it out once. */
const idleSeconds = 1;

beforeAll(async () => {
  issuer = await new TestIssuer().start();
  key = await signingKey('k1');
  issuer.keys = [key.publicJwk];
  joinTokens = new JoinTokenStore(trustDomain, systemClock, { maxTtlSeconds: 600, reuseWindowSeconds: 30 });
  const rules = policyConfigSchema.parse({ rules: [{ name: 'kubernetes', match: { authenticator: 'jwt', audience: 'workload-ca' } }] }).rules;
  h = await startHarness({
    config: { idleTimeout: idleSeconds },
    policy: rulePolicyWithBuiltins(trustDomain, rules, 3600),
    authenticators: () => [
      new JoinTokenAuthenticator(joinTokens),
      new JwtAuthenticator({
        config: jwtConfigSchema.parse({ issuers: [{ issuer: issuer.url, audiences: ['workload-ca'], keys: { jwksUri: issuer.jwksUri } }] }),
        clock: systemClock,
        logger: silentLogger(),
      }),
    ],
  });
});
afterAll(async () => {
  await h?.close();
  await issuer?.stop();
});

/** A projected token of ns/shop/sa/cart for the pod with this UID (none: a token without the pod claim). */
function cartToken(podUid?: string): Promise<string> {
  const claims = kubernetesClaims('shop', 'cart', Math.floor(Date.now() / 1000));
  const k8s = claims['kubernetes.io'] as { pod?: { uid: string } };
  if (podUid === undefined) delete k8s.pod;
  else k8s.pod!.uid = podUid;
  return sign(key, { ...claims, iss: issuer.url });
}

function openStream(authorization: string, nodeId: string, names = ['default']): XdsStream {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', authorization);
  // A channel of its own, as each Envoy has: nothing shared between callers.
  const stream = XdsStream.sotw(h.client(undefined, { 'grpc.use_local_subchannel_pool': 1 }), metadata);
  stream.send({ node: envoyNode(nodeId), resource_names: names, type_url: secretTypeUrl });
  return stream;
}

/** The private key a stream receives for `default`. */
async function keyOf(stream: XdsStream): Promise<string> {
  const res = await stream.next();
  const secret = decodeSecret(res.resources[0]);
  expect(secret.privateKey).toContain('PRIVATE KEY');
  return secret.privateKey!;
}

describe('a private key belongs to one instance (item 5)', () => {
  it('gives two pods of one service account sending the same node.id different keys; one pod’s two streams share one', async () => {
    const [podA, podB] = [await cartToken('pod-uid-a'), await cartToken('pod-uid-b')];
    const a1 = openStream(`Bearer ${podA}`, 'sidecar~shared-node');
    const b = openStream(`Bearer ${podB}`, 'sidecar~shared-node');
    // Envoy opens one stream per secret: the same pod asks for its certificate by its SPIFFE ID too.
    const a2 = openStream(`Bearer ${podA}`, 'sidecar~shared-node', ['spiffe://cluster.local/ns/shop/sa/cart']);
    const [keyA1, keyB, keyA2] = await Promise.all([keyOf(a1), keyOf(b), keyOf(a2)]);
    expect(keyB).not.toBe(keyA1);
    expect(keyA2).toBe(keyA1);
    [a1, b, a2].forEach((s) => s.cancel());
  });

  it('keeps a pod’s key across its hourly token refresh, and a token without a pod claim is its own instance', async () => {
    const [first, refreshed] = [await cartToken('pod-uid-c'), await cartToken('pod-uid-c')];
    const [bare1, bare2] = [await cartToken(), await cartToken()];
    expect(refreshed).not.toBe(first);
    const streams = [first, refreshed, bare1, bare2].map((token) => openStream(`Bearer ${token}`, 'sidecar~refresh-node'));
    const [k1, k2, k3, k4] = await Promise.all(streams.map(keyOf));
    expect(k2).toBe(k1);
    expect(new Set([k1, k3, k4]).size).toBe(3);
    streams.forEach((s) => s.cancel());
  });

  it('gives two machines joining with tokens for the same SPIFFE ID and node.id different keys', async () => {
    const spiffeId = 'spiffe://cluster.local/vm/db';
    const tokens = await Promise.all([0, 1].map(async () => (await joinTokens.create({ spiffeId, ttlSeconds: 600 })).token));
    const streams = tokens.map((token) => openStream(`Bearer ${token}`, 'vm~db'));
    const [k1, k2] = await Promise.all(streams.map(keyOf));
    expect(k2).not.toBe(k1);
    streams.forEach((s) => s.cancel());
  });

  it('tells two mTLS callers presenting SVIDs of one SPIFFE ID apart by the key each holds', async () => {
    const pki = await TestPki.create();
    const id = 'spiffe://cluster.local/vm/db';
    const [first, second] = [await pki.svid(id), await pki.svid(id)];
    const mtls = new MtlsAuthenticator({ trustDomain: 'cluster.local', clock: new FakeClock(Date.now()), intermediates: () => [pki.intermediatePem()] });
    // verifyError null: as the TLS listener reports a chain OpenSSL validated.
    const instanceOf = async (certificates: Uint8Array[]) =>
      (await mtls.authenticate({ transport: 'tls', peerAddress: '127.0.0.1:2', metadata: new Map(), peerChain: { certificates, verifyError: null } }))!.instance;
    expect(await instanceOf(first)).not.toBe(await instanceOf(second));
    expect(await instanceOf(first)).toBe(await instanceOf(first));
  });
});

describe('what one credential makes the cache hold is bounded (item 9)', () => {
  it('refuses a node.id or node.cluster over the limit with INVALID_ARGUMENT, holding nothing', async () => {
    const token = `Bearer ${await cartToken('pod-uid-long')}`;
    const before = h.server.cache.stats().identities;
    const long = 'n'.repeat(limits.sdsNodeFieldMaxBytes + 1);
    const tooLongId = await openStream(token, long).status;
    expect(tooLongId.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooLongId.details).toContain('node.id');
    const stream = XdsStream.sotw(h.client(), new grpc.Metadata());
    stream.send({ node: { ...envoyNode('sidecar~ok'), cluster: long }, resource_names: ['default'], type_url: secretTypeUrl });
    expect((await stream.status).code).toBe(grpc.status.INVALID_ARGUMENT);
    // Not toBe(before): the earlier tests' identities go idle (idleSeconds) and may leave meanwhile on a slow box.
    expect(h.server.cache.stats().identities).toBeLessThanOrEqual(before);
  });

  it('refuses node identities past the per-instance cap with RESOURCE_EXHAUSTED, bounded in entries and memory', async () => {
    const token = `Bearer ${await cartToken('pod-uid-many-nodes')}`;
    const others = h.server.cache.stats().identities;
    const rssBefore = process.memoryUsage().rss;
    // Node ids as long as allowed, as the attack used (it sent them up to the message size).
    const nodeId = (i: number) => `sidecar~${i}~`.padEnd(limits.sdsNodeFieldMaxBytes, 'x');
    const served: XdsStream[] = [];
    for (let i = 0; i < limits.sdsNodesPerInstanceMax; i++) served.push(openStream(token, nodeId(i)));
    const keys = await Promise.all(served.map(keyOf));
    expect(new Set(keys).size).toBe(limits.sdsNodesPerInstanceMax);

    const refused = await Promise.all(Array.from({ length: 200 }, (_, i) => openStream(token, nodeId(1000 + i)).status));
    expect(refused.map((s) => s.code)).toEqual(refused.map(() => grpc.status.RESOURCE_EXHAUSTED));
    expect(refused[0]!.details).toMatch(/node identities \(limit 16\)/);
    // Earlier tests' identities may idle out meanwhile (idleSeconds): this pod's 16 stay.
    const { identities } = h.server.cache.stats();
    expect(identities).toBeGreaterThanOrEqual(limits.sdsNodesPerInstanceMax);
    expect(identities).toBeLessThanOrEqual(others + limits.sdsNodesPerInstanceMax);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(96 * 1024 * 1024);

    // The pod's own node still gets its key on a new stream, and the bundle needs no identity at all.
    const again = openStream(token, nodeId(0));
    expect(await keyOf(again)).toBe(keys[0]);
    const bundle = openStream(token, nodeId(5000), ['ROOTCA']);
    expect(decodeSecret((await bundle.next()).resources[0]).name).toBe('ROOTCA');
    [...served, again, bundle].forEach((s) => s.cancel());

    // Closed streams keep their key for the idle timeout (a reconnect gets it back), then make room.
    expect((await openStream(token, nodeId(6000)).status).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000 + 500));
    const fresh = openStream(token, nodeId(6001));
    await keyOf(fresh);
    fresh.cancel();
  });
});

describe('the cache holds a bounded number of identities in all (item 9)', () => {
  const owner = (i: number) => `owner-${i}`;
  const request = (i: number) => ({ spiffeId: `spiffe://cluster.local/w/${i}` });

  it('makes room by dropping the oldest idle identity, and refuses with ERR_SDS_LIMIT when all are in use', async () => {
    const clock = new FakeClock();
    const cache = new SecretCache({ issuer: new FakeIssuer(clock), clock, logger: silentLogger(), maxIdentities: 4 });
    try {
      const cancels = [0, 1, 2, 3].map((i) => cache.watchCertificate(`k${i}`, request(i), () => {}, owner(i)));
      await settle();
      let refusal: unknown;
      try {
        cache.watchCertificate('k4', request(4), () => {}, owner(4));
      } catch (err) {
        refusal = err;
      }
      expect(isWcaError(refusal, 'ERR_SDS_LIMIT')).toBe(true);
      expect((refusal as { details: { reason: string } }).details.reason).toBe('identities');

      cancels[1]!();
      cancels[2]!();
      cache.watchCertificate('k4', request(4), () => {}, owner(4));
      cache.watchCertificate('k5', request(5), () => {}, owner(5));
      expect(cache.stats().identities).toBe(4);
      // k1 went first (idle longest), then k2; k0 and k3 are still watched and keep their keys.
      const issued: string[] = [];
      cache.watchCertificate('k0', request(0), (svid) => issued.push(svid.serial), owner(0));
      expect(issued).toHaveLength(1);
    } finally {
      cache.close();
    }
  });

  it('never exceeds its cap however many owners come and go', async () => {
    const clock = new FakeClock();
    const cache = new SecretCache({ issuer: new FakeIssuer(clock), clock, logger: silentLogger(), maxIdentities: 64 });
    try {
      for (let i = 0; i < 5000; i++) cache.watchCertificate(`k${i}`, request(i), () => {}, owner(i))();
      await settle();
      expect(cache.stats().identities).toBe(64);
    } finally {
      cache.close();
    }
  });
});

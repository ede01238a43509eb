import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authority } from '../../src/ca/authority.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { systemClock } from '../../src/clock.js';
import { JoinTokenAuthenticator } from '../../src/identity/join-token/authenticator.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { JwtAuthenticator } from '../../src/identity/jwt/authenticator.js';
import { jwtConfigSchema } from '../../src/identity/jwt/config.js';
import { MtlsAuthenticator } from '../../src/identity/mtls.js';
import { policyConfigSchema } from '../../src/identity/policy/config.js';
import { RulePolicy } from '../../src/identity/policy/rules.js';
import { sdsConfigSchema } from '../../src/sds/config.js';
import { startSdsServer, type SdsServer } from '../../src/sds/server.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { kubernetesClaims, sign, signingKey, TestIssuer, type SigningKey } from './jwt/fixtures.js';
import { SdsTestClient } from './sds-client.js';

const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';
let authority: Authority;
let issuer: TestIssuer;
let key: SigningKey;
let joinTokens: JoinTokenStore;
let server: SdsServer;

beforeAll(async () => {
  authority = await createDevAuthority({ trustDomain: 'cluster.local', signers: 1 });
  issuer = await new TestIssuer().start();
  key = await signingKey('k1');
  issuer.keys = [key.publicJwk];
  joinTokens = new JoinTokenStore('cluster.local', systemClock, { maxTtlSeconds: 3600, reuseWindowSeconds: 30 });
  const logger = silentLogger();
  const authenticators = [
    new MtlsAuthenticator({ trustDomain: 'cluster.local', clock: systemClock, intermediates: () => authority.intermediatesPem() }),
    new JoinTokenAuthenticator(joinTokens),
    new JwtAuthenticator({
      config: jwtConfigSchema.parse({ issuers: [{ issuer: issuer.url, audiences: ['workload-ca'], keys: { discovery: true } }] }),
      clock: systemClock,
      logger,
    }),
  ];
  const policy = new RulePolicy(
    'cluster.local',
    policyConfigSchema.parse({
      rules: [
        { name: 'kubernetes', match: { authenticator: 'jwt', audience: 'workload-ca' } },
        { name: 'machines', match: { authenticator: ['join-token', 'mtls'], bound: 'spiffe://cluster.local/vm/**' }, maxTtl: '1h' },
      ],
    }),
  );
  // One mtls listener, as in production: first contact (JWT, join token) needs no
  // client certificate; a presented one is checked by the mtls authenticator first.
  server = await startSdsServer({
    issuer: authority,
    authenticators,
    policy,
    config: sdsConfigSchema.parse({}),
    profile: 'production',
    logger,
    clock: systemClock,
    metrics: createMetrics(),
    listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    transport: 'mtls',
  });
});

afterAll(async () => {
  await Promise.all([server?.close(), issuer?.stop()]);
  await authority?.close();
});

const client = (identity?: { chainPem: string; privateKeyPem: string }) => new SdsTestClient(server.address, authority.bundle().pem, SERVER_ID, identity);
const k8sToken = (namespace: string, serviceAccount: string) =>
  sign(key, { ...kubernetesClaims(namespace, serviceAccount, Math.floor(Date.now() / 1000)), iss: issuer.url });

describe('identity end to end over SDS (real TLS, real gRPC, real CA)', () => {
  it('gives a Kubernetes token for ns/shop/sa/cart exactly spiffe://cluster.local/ns/shop/sa/cart', async () => {
    const c = client();
    try {
      const svid = await c.fetch('default', `Bearer ${await k8sToken('shop', 'cart')}`);
      expect(svid.spiffeIds).toEqual(['spiffe://cluster.local/ns/shop/sa/cart']);
    } finally {
      c.close();
    }
  });

  it.each([
    ['asking for someone else’s SPIFFE ID', 'spiffe://cluster.local/ns/shop/sa/admin', async () => `Bearer ${await k8sToken('shop', 'cart')}`, 7, /only its own SPIFFE ID/],
    ['a token signed by another key', 'default', async () => `Bearer ${await sign(await signingKey('k1'), kubernetesClaims('shop', 'cart', Math.floor(Date.now() / 1000)))}`, 16, /JWT issuer "https:\/\/kubernetes.default.svc.cluster.local" is not a configured issuer/],
    ['a forged signature', 'default', async () => `Bearer ${await sign(await signingKey('k1'), { ...kubernetesClaims('shop', 'cart', Math.floor(Date.now() / 1000)), iss: issuer.url })}`, 16, /signature verification failed/],
    ['no credential', 'default', async () => undefined, 16, /no credential recognised/],
  ])('denies %s and keeps serving others', async (_name, resource, authorization, code, message) => {
    const c = client();
    try {
      const err = await c.fetch(resource, await authorization()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code, details: expect.stringMatching(message) });
      expect((await c.fetch('default', `Bearer ${await k8sToken('shop', 'cart')}`)).spiffeIds).toEqual(['spiffe://cluster.local/ns/shop/sa/cart']);
    } finally {
      c.close();
    }
  });

  it('denies a client certificate from another root even when a valid JWT comes with it, and keeps serving others', async () => {
    const foreignCa = await createDevAuthority({ trustDomain: 'cluster.local', signers: 1 });
    const foreign = await foreignCa.issue({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' }).finally(() => foreignCa.close());
    const impostor = client(foreign);
    const honest = client();
    try {
      const err = await impostor.fetch('default', `Bearer ${await k8sToken('shop', 'cart')}`).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 16, details: expect.stringContaining('refused by RFC 5280 path validation (OpenSSL: UNABLE_TO_GET_ISSUER_CERT_LOCALLY)') });
      expect((await honest.fetch('default', `Bearer ${await k8sToken('shop', 'cart')}`)).spiffeIds).toEqual(['spiffe://cluster.local/ns/shop/sa/cart']);
    } finally {
      impostor.close();
      honest.close();
    }
  });

  // The VM story (join token from the CLI, then mTLS renewal on the same listener) runs
  // against the whole production app in test/app.test.ts.
});

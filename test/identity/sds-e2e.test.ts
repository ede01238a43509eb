import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/admin/client.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import type { Authority } from '../../src/ca/authority.js';
import { createDevAuthority } from '../../src/ca/dev.js';
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
let tlsServer: SdsServer;
let mtlsServer: SdsServer;
let admin: AdminServer;
let dir: string;

beforeAll(async () => {
  authority = await createDevAuthority({ trustDomain: 'cluster.local', signers: 1 });
  issuer = await new TestIssuer().start();
  key = await signingKey('k1');
  issuer.keys = [key.publicJwk];
  joinTokens = new JoinTokenStore('cluster.local', systemClock, { maxTtlSeconds: 3600, reuseWindowSeconds: 30 });
  const logger = silentLogger();
  const authenticators = [
    new MtlsAuthenticator(authority, systemClock, () => [authority.activeCertificatePem() ?? '']),
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
  const common = { issuer: authority, authenticators, policy, config: sdsConfigSchema.parse({}), profile: 'production' as const, logger, clock: systemClock };
  // First contact (JWT, join token) needs no client certificate; renewal presents the SVID.
  tlsServer = await startSdsServer({ ...common, metrics: createMetrics(), listen: { kind: 'tcp', host: '127.0.0.1', port: 0 }, transport: 'tls' });
  mtlsServer = await startSdsServer({ ...common, metrics: createMetrics(), listen: { kind: 'tcp', host: '127.0.0.1', port: 0 }, transport: 'mtls' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-e2e-'));
  admin = await startAdminServer({ joinTokens, logger, listen: { kind: 'unix', path: path.join(dir, 'admin.sock') } });
});

afterAll(async () => {
  await Promise.all([tlsServer?.close(), mtlsServer?.close(), admin?.close(), issuer?.stop()]);
  await authority?.close();
  await rm(dir, { recursive: true, force: true });
});

const client = (server: SdsServer, identity?: { chainPem: string; privateKeyPem: string }) =>
  new SdsTestClient(server.address, authority.bundle().pem, SERVER_ID, identity);
const k8sToken = (namespace: string, serviceAccount: string) =>
  sign(key, { ...kubernetesClaims(namespace, serviceAccount, Math.floor(Date.now() / 1000)), iss: issuer.url });

describe('identity end to end over SDS (real TLS, real gRPC, real CA)', () => {
  it('gives a Kubernetes token for ns/shop/sa/cart exactly spiffe://cluster.local/ns/shop/sa/cart', async () => {
    const c = client(tlsServer);
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
    const c = client(tlsServer);
    try {
      const err = await c.fetch(resource, await authorization()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code, details: expect.stringMatching(message) });
      expect((await c.fetch('default', `Bearer ${await k8sToken('shop', 'cart')}`)).spiffeIds).toEqual(['spiffe://cluster.local/ns/shop/sa/cart']);
    } finally {
      c.close();
    }
  });

  it('lets a VM join with a token from the admin API, then renew over mTLS after the token is spent', async () => {
    const adminClient = connectAdmin(admin.path);
    const { token } = await adminClient.createJoinToken({ spiffe_id: 'spiffe://cluster.local/vm/db-1', dns_names: ['db-1.vm.internal'], ttl_seconds: 600 });
    adminClient.close();

    const first = client(tlsServer);
    let svid;
    try {
      svid = await first.fetch('default', `Bearer ${token}`);
      expect(svid).toMatchObject({ spiffeIds: ['spiffe://cluster.local/vm/db-1'], dnsNames: ['db-1.vm.internal'] });
      // Envoy's ROOTCA stream from the same machine may still present the token...
      expect(await first.fetchSecret('ROOTCA', `Bearer ${token}`)).toMatchObject({ name: 'ROOTCA', validation_context: expect.anything() });
      // ...another machine may not.
      const reuse = await first.fetch('default', `Bearer ${token}`, 'attacker-node').catch((e: unknown) => e);
      expect(reuse).toMatchObject({ code: 16, details: expect.stringMatching(/^join token [0-9a-f]{16} was already used$/) });
    } finally {
      first.close();
    }

    const renewing = client(mtlsServer, svid);
    try {
      const renewed = await renewing.fetch('default');
      expect(renewed).toMatchObject({ spiffeIds: ['spiffe://cluster.local/vm/db-1'], dnsNames: ['db-1.vm.internal'] });
      expect(renewed.serial).not.toBe(svid.serial);
      const other = await renewing.fetch('spiffe://cluster.local/vm/db-2').catch((e: unknown) => e);
      expect(other).toMatchObject({ code: 7 });
    } finally {
      renewing.close();
    }
  });
});

/**
 * Issue #8, item 1: mTLS renewal accepts only chains a maintained RFC 5280 path
 * validator (OpenSSL, in the TLS handshake, client purpose) accepts, and only
 * leaves that one of our own workload-ca intermediates issued. Chains are made with
 * the openssl CLI at test time under an "enterprise" root that the trust bundle
 * holds next to the CA's own root.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authority } from '../../src/ca/authority.js';
import type { LeafIssuer } from '../../src/ca/types.js';
import { systemClock } from '../../src/clock.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { MtlsAuthenticator } from '../../src/identity/mtls.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { sdsConfigSchema } from '../../src/sds/config.js';
import { startSdsServer, type SdsServer } from '../../src/sds/server.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { SdsTestClient } from '../identity/sds-client.js';
import { extensions, OpensslWorkbench, type OpensslCert } from '../helpers/openssl-ca.js';
import { opensslVerify } from '../helpers/pki.js';
import { hasTools } from '../helpers/tools.js';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/vm/db-1`;
const SERVER_ID = `spiffe://${TD}/workload-ca/sds`;

describe.runIf(hasTools('openssl'))('mTLS renewal: OpenSSL path validation and our own intermediates only', () => {
  let bench: OpensslWorkbench;
  let authority: Authority;
  let server: SdsServer;
  let pki: Record<'root' | 'upstream' | 'ours' | 'constrained' | 'oursConstrained' | 'pathLimited' | 'oursTooDeep' | 'otherSub' | 'foreignRoot' | 'foreignInt', OpensslCert>;
  let bundlePem: string;

  beforeAll(async () => {
    bench = await OpensslWorkbench.open();
    authority = await createDevAuthority({ trustDomain: TD, signers: 1 });
    const root = await bench.root('/CN=enterprise root');
    const upstream = await bench.issue(root, '/CN=enterprise issuing CA', extensions.ca());
    const constrained = await bench.issue(root, '/CN=constrained sub-CA', extensions.ca(undefined, 'nameConstraints=critical,permitted;URI:other.example\n'));
    const pathLimited = await bench.issue(root, '/CN=pathlen-0 sub-CA', extensions.ca(0));
    const foreignRoot = await bench.root('/CN=foreign root');
    pki = {
      root,
      upstream,
      // Two upstream levels above our intermediate: root → issuing CA → workload-ca.
      ours: await bench.issue(upstream, '/CN=workload-ca cluster.local', extensions.ca(0)),
      constrained,
      oursConstrained: await bench.issue(constrained, '/CN=workload-ca under a constrained CA', extensions.ca(0)),
      pathLimited,
      oursTooDeep: await bench.issue(pathLimited, '/CN=workload-ca below a pathlen-0 CA', extensions.ca(0)),
      otherSub: await bench.issue(root, '/CN=another team sub-CA', extensions.ca(0)),
      foreignRoot,
      foreignInt: await bench.issue(foreignRoot, '/CN=foreign issuing CA', extensions.ca(0)),
    };
    // Every one of these is one of "our" intermediates here, so each refusal below is
    // OpenSSL's, not the own-intermediate check's. The foreign issuing CA is in the
    // store without its root: it must never act as a trust anchor.
    const ownChains = [
      pki.ours.certPem + pki.upstream.certPem,
      pki.oursConstrained.certPem + pki.constrained.certPem,
      pki.oursTooDeep.certPem + pki.pathLimited.certPem,
      pki.foreignInt.certPem,
    ];
    bundlePem = authority.bundle().pem + root.certPem;
    const issuer: LeafIssuer = {
      trustDomain: TD,
      issue: (request) => authority.issue(request),
      issueForCsr: (request) => authority.issueForCsr(request),
      subscribe: (listener) => authority.subscribe(listener),
      bundle: () => ({ trustDomain: TD, pem: bundlePem, version: 'with-enterprise-root' }),
      intermediatesPem: () => [...authority.intermediatesPem(), ...ownChains],
      renewalIntermediatesPem: () => [...authority.renewalIntermediatesPem(), ...ownChains],
      taintedIntermediatesPem: () => [],
    };
    server = await startSdsServer({
      issuer,
      authenticators: [new MtlsAuthenticator({ trustDomain: TD, clock: systemClock, intermediates: () => issuer.intermediatesPem() })],
      policy: rulePolicyWithBuiltins(TD, [], 3600),
      config: sdsConfigSchema.parse({}),
      profile: 'production',
      logger: silentLogger(),
      metrics: createMetrics(),
      clock: systemClock,
      listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
      transport: 'mtls',
    });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await authority?.close();
    await bench?.close();
  });

  /** FetchSecrets("default") presenting `chain` (leaf first) with the leaf's key. */
  async function renew(leaf: OpensslCert, above: OpensslCert[]) {
    const client = new SdsTestClient(server.address, authority.bundle().pem, SERVER_ID, {
      chainPem: leaf.certPem + above.map((c) => c.certPem).join(''),
      privateKeyPem: leaf.keyPem,
    });
    try {
      return await client.fetch('default');
    } finally {
      client.close();
    }
  }

  it('renews a leaf-only chain under a two-level upstream hierarchy (OpenSSL completes it from the store)', async () => {
    const leaf = await bench.issue(pki.ours, '/O=SPIFFE', extensions.svid(ID));
    for (const above of [[], [pki.ours], [pki.ours, pki.upstream]]) {
      const renewed = await renew(leaf, above);
      expect(renewed.spiffeIds).toEqual([ID]);
      // The fresh SVID comes from the CA, not from the presented hierarchy.
      expect((await opensslVerify(renewed.chainPem, authority.bundle().pem, 'sslclient')).ok).toBe(true);
    }
  });

  const refusedByOpenssl: [string, () => Promise<[OpensslCert, OpensslCert[]]>, RegExp][] = [
    [
      'a leaf under a name-constrained CA whose subtree excludes the trust domain',
      async () => [await bench.issue(pki.oursConstrained, '/O=SPIFFE', extensions.svid(ID)), [pki.oursConstrained, pki.constrained]],
      /OpenSSL: (PERMITTED_SUBTREE_VIOLATION|UNSPECIFIED)/,
    ],
    [
      'a leaf two CAs below a pathlen:0 CA',
      async () => [await bench.issue(pki.oursTooDeep, '/O=SPIFFE', extensions.svid(ID)), [pki.oursTooDeep, pki.pathLimited]],
      /OpenSSL: PATH_LENGTH_EXCEEDED/,
    ],
    [
      'a leaf without the clientAuth extended key usage',
      async () => [await bench.issue(pki.ours, '/O=SPIFFE', extensions.svid(ID, { eku: 'serverAuth' })), [pki.ours, pki.upstream]],
      /OpenSSL: INVALID_PURPOSE/,
    ],
    [
      'a leaf whose key usage lacks digitalSignature',
      async () => [await bench.issue(pki.ours, '/O=SPIFFE', extensions.svid(ID, { keyUsage: 'nonRepudiation' })), [pki.ours, pki.upstream]],
      /OpenSSL: INVALID_PURPOSE/,
    ],
    [
      'a leaf under an intermediate that is in the store but whose root is not trusted',
      async () => [await bench.issue(pki.foreignInt, '/O=SPIFFE', extensions.svid(ID)), []],
      /OpenSSL: UNABLE_TO_GET_ISSUER_CERT/,
    ],
  ];

  it.each(refusedByOpenssl)('refuses %s with UNAUTHENTICATED, as openssl verify -purpose sslclient does', async (_name, make, reason) => {
    const [leaf, above] = await make();
    const err = await renew(leaf, above).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(reason) });
    const chainPem = leaf.certPem + above.map((c) => c.certPem).join('');
    expect((await opensslVerify(chainPem, bundlePem, 'sslclient')).ok).toBe(false);
  });

  const validButNotOurs: [string, () => Promise<[OpensslCert, OpensslCert[]]>][] = [
    ['a leaf issued directly by the upstream root', async () => [await bench.issue(pki.root, '/O=SPIFFE', extensions.svid(ID)), []]],
    ['a leaf issued by another sub-CA of the upstream root', async () => [await bench.issue(pki.otherSub, '/O=SPIFFE', extensions.svid(ID)), [pki.otherSub]]],
    ['a leaf issued by the upstream CA that signs our intermediate', async () => [await bench.issue(pki.upstream, '/O=SPIFFE', extensions.svid(ID)), [pki.upstream]]],
  ];

  it.each(validButNotOurs)('refuses %s with UNAUTHENTICATED although RFC 5280 accepts it', async (_name, make) => {
    const [leaf, above] = await make();
    const chainPem = leaf.certPem + above.map((c) => c.certPem).join('');
    expect((await opensslVerify(chainPem, bundlePem, 'sslclient')).ok).toBe(true);
    const err = await renew(leaf, above).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('not issued by a current workload-ca intermediate') });
  });
});

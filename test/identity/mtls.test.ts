import { beforeAll, describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { MtlsAuthenticator } from '../../src/identity/mtls.js';
import type { CallerContext } from '../../src/identity/types.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { TestPki } from './svids.js';

const ID = 'spiffe://cluster.local/ns/vm/sa/db-1';
let ours: TestPki;
let otherRoot: TestPki;
let otherDomain: TestPki;
let chain: Uint8Array[];

beforeAll(async () => {
  [ours, otherRoot, otherDomain] = await Promise.all([TestPki.create(), TestPki.create(), TestPki.create('other.org')]);
  chain = await ours.svid(ID, { dnsNames: ['db-1.vm.internal'] });
});

const context = (peerCertificates?: Uint8Array[]): CallerContext => ({
  transport: 'tls',
  peerAddress: '127.0.0.1:2',
  metadata: new Map(),
  ...(peerCertificates ? { peerCertificates } : {}),
});

const at = (offsetMs = 0) => new FakeClock(Date.now() + offsetMs);
const authenticate = (certs: Uint8Array[] | undefined, clock = at()) => new MtlsAuthenticator(ours.issuer(), clock).authenticate(context(certs));

describe('MtlsAuthenticator', () => {
  it('recognises an SVID of our trust domain and binds the caller to its SPIFFE ID', async () => {
    expect(await authenticate(chain)).toMatchObject({
      authenticator: 'mtls',
      subject: ID,
      boundSpiffeId: ID,
      claims: { spiffeId: ID, dnsNames: ['db-1.vm.internal'] },
    });
  });

  it('returns null when no client certificate was presented', async () => {
    expect(await authenticate(undefined)).toBeNull();
    expect(await authenticate([])).toBeNull();
  });

  const cases: [string, () => Promise<{ certs: Uint8Array[]; clock?: FakeClock }>, string, RegExp][] = [
    [
      'an SVID from another trust domain',
      async () => ({ certs: await otherDomain.svid('spiffe://other.org/ns/vm/sa/db-1') }),
      'foreign-trust-domain',
      /belongs to trust domain "other.org", not "cluster.local"/,
    ],
    [
      'an SVID of our trust domain name under another root',
      async () => ({ certs: await otherRoot.svid(ID) }),
      'unknown-root',
      /does not chain to a root of our trust bundle/,
    ],
    [
      'a leaf of ours followed by a foreign intermediate',
      async () => ({ certs: [chain[0]!, (await otherRoot.svid(ID))[1]!] }),
      'chain-broken',
      /chain for spiffe:\/\/cluster.local\/ns\/vm\/sa\/db-1 is broken at "CN=cluster.local test intermediate"/,
    ],
    ['an expired SVID', async () => ({ certs: chain, clock: at(3601_000) }), 'expired', /client SVID spiffe:\/\/cluster.local\/ns\/vm\/sa\/db-1 expired at/],
    [
      'an SVID that is not valid yet',
      async () => ({ certs: await ours.svid(ID, { notBefore: new Date(Date.now() + 600_000) }) }),
      'not-yet-valid',
      /is not valid before/,
    ],
    ['a leaf without its intermediate', async () => ({ certs: chain.slice(0, 1) }), 'unknown-root', /does not chain to a root of our trust bundle/],
    ['garbage bytes', async () => ({ certs: [new Uint8Array([0x30, 0x03, 1, 2, 3])] }), 'unparseable', /certificate #0 is not a valid X.509 certificate/],
    ['a CA certificate instead of a leaf', async () => ({ certs: chain.slice(1) }), 'not-svid', /has 0 URI SANs; an X.509-SVID has exactly one/],
    [
      'a certificate with a non-SPIFFE URI SAN',
      async () => ({ certs: await ours.svid('https://cluster.local/ns/vm') }),
      'not-svid',
      /not an X.509-SVID: invalid SPIFFE ID/,
    ],
    ['a chain of 9 certificates', async () => ({ certs: Array.from({ length: 9 }, () => chain[0]!) }), 'chain-too-long', /presented 9 certificates/],
  ];

  it.each(cases)('rejects %s', async (_name, make, reason, message) => {
    const { certs, clock } = await make();
    const err = await authenticate(certs, clock).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_UNAUTHENTICATED')).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((err as { details: unknown }).details).toEqual({ reason });
  });

  it('completes a leaf-only chain with our own intermediates (grpc-js hands over only the leaf)', async () => {
    const auth = new MtlsAuthenticator(ours.issuer(), at(), () => [ours.intermediatePem()]);
    expect(await auth.authenticate(context(chain.slice(0, 1)))).toMatchObject({ boundSpiffeId: ID });
    const foreignLeaf = (await otherRoot.svid(ID)).slice(0, 1);
    await expect(auth.authenticate(context(foreignLeaf))).rejects.toThrow(/does not chain to a root of our trust bundle/);
  });

  it('stops accepting SVIDs of a root that left the bundle', async () => {
    let pki = ours;
    const issuer = { ...ours.issuer(), bundle: () => pki.issuer().bundle() };
    const auth = new MtlsAuthenticator(issuer, at());
    expect(await auth.authenticate(context(chain))).not.toBeNull();
    pki = otherRoot;
    await expect(auth.authenticate(context(chain))).rejects.toThrow(/does not chain to a root of our trust bundle/);
  });
});

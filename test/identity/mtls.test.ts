import { beforeAll, describe, expect, it } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { isWcaError } from '../../src/errors.js';
import { EvictionList } from '../../src/identity/evictions.js';
import { pemBlocks } from '../../src/x509/der.js';
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

/** What the TLS listener hands over: the chain and OpenSSL's verdict (null: verified). */
const context = (certificates?: Uint8Array[], verifyError: string | null = null): CallerContext => ({
  transport: 'tls',
  peerAddress: '127.0.0.2:2',
  metadata: new Map(),
  ...(certificates ? { peerChain: { certificates, verifyError } } : {}),
});

const at = (offsetMs = 0) => new FakeClock(Date.now() + offsetMs);
const authenticator = (clock = at(), pki = ours) => new MtlsAuthenticator({ trustDomain: 'cluster.local', clock, intermediates: () => [pki.intermediatePem()] });
const authenticate = (certs: Uint8Array[] | undefined, clock = at()) => authenticator(clock).authenticate(context(certs));

describe('MtlsAuthenticator', () => {
  it('recognises an SVID one of our intermediates issued and binds the caller to its SPIFFE ID', async () => {
    expect(await authenticate(chain)).toMatchObject({
      authenticator: 'mtls',
      subject: ID,
      boundSpiffeId: ID,
      claims: { spiffeId: ID, dnsNames: ['db-1.vm.internal'] },
    });
    // Only the leaf matters once OpenSSL has validated the path.
    expect(await authenticate(chain.slice(0, 1))).toMatchObject({ boundSpiffeId: ID });
  });

  it('returns null when no client certificate was presented', async () => {
    expect(await authenticate(undefined)).toBeNull();
    expect(await authenticate([])).toBeNull();
  });

  const cases: [string, () => Promise<{ certs: Uint8Array[]; clock?: FakeClock; verifyError?: string }>, string][] = [
    ['a chain OpenSSL refused', async () => ({ certs: chain, verifyError: 'INVALID_PURPOSE' }), 'chain-invalid'],
    ['an SVID from another trust domain', async () => ({ certs: await otherDomain.svid('spiffe://other.org/ns/vm/sa/db-1') }), 'foreign-trust-domain'],
    ['an SVID of our trust domain name that another CA issued', async () => ({ certs: await otherRoot.svid(ID) }), 'not-issued-by-us'],
    ['an SVID that expired after its connection was verified', async () => ({ certs: chain, clock: at(3601_000) }), 'expired'],
    ['an SVID that is not valid yet', async () => ({ certs: await ours.svid(ID, { notBefore: new Date(Date.now() + 600_000) }) }), 'not-yet-valid'],
    ['garbage bytes', async () => ({ certs: [new Uint8Array([0x30, 0x03, 1, 2, 3])] }), 'unparseable'],
    ['a CA certificate instead of a leaf', async () => ({ certs: chain.slice(1) }), 'not-svid'],
    ['a certificate with a non-SPIFFE URI SAN', async () => ({ certs: await ours.svid('https://cluster.local/ns/vm') }), 'not-svid'],
  ];

  it.each(cases)('rejects %s', async (_name, make, reason) => {
    const { certs, clock, verifyError } = await make();
    const err = await authenticator(clock).authenticate(context(certs, verifyError ?? null)).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_UNAUTHENTICATED')).toBe(true);
    expect((err as { details: { reason: string } }).details.reason).toBe(reason);
  });

  it('stops accepting SVIDs of an intermediate that left the current slots', async () => {
    let current = [ours.intermediatePem()];
    const auth = new MtlsAuthenticator({ trustDomain: 'cluster.local', clock: at(), intermediates: () => current });
    expect(await auth.authenticate(context(chain))).not.toBeNull();
    current = [otherRoot.intermediatePem()];
    await expect(auth.authenticate(context(chain))).rejects.toMatchObject({ details: { reason: 'not-issued-by-us' } });
  });
});

describe('MtlsAuthenticator renewal lineage (injected clock)', () => {
  it('carries the lineage start of an SVID of ours on, refuses it at the maximum age and after an eviction', async () => {
    const authority = await createDevAuthority({ signers: 1 });
    try {
      const started = Math.floor(Date.now() / 1000) * 1000 - 1800_000;
      const svid = await authority.issue({ spiffeId: ID, lineageStartMs: started });
      const certs = pemBlocks(svid.chainPem).map((der) => new Uint8Array(der));
      const clock = new FakeClock(Date.now());
      const evictions = new EvictionList(clock, 4 * 3600_000);
      const maxAge = 3600_000;
      const auth = new MtlsAuthenticator({ trustDomain: 'cluster.local', clock, intermediates: () => authority.intermediatesPem(), evictions, lineageMaxAgeMs: maxAge });
      expect(await auth.authenticate(context(certs))).toMatchObject({ lineageStartMs: started, validUntilMs: started + maxAge });

      clock.advance(started + maxAge - clock.now() - 1);
      expect(await auth.authenticate(context(certs))).not.toBeNull();
      clock.advance(1);
      await expect(auth.authenticate(context(certs))).rejects.toMatchObject({ code: 'ERR_LINEAGE_EXPIRED', details: { reason: 'lineage-max-age' } });

      const unlimited = new MtlsAuthenticator({ trustDomain: 'cluster.local', clock, intermediates: () => authority.intermediatesPem(), evictions });
      expect(await unlimited.authenticate(context(certs))).not.toBeNull();
      evictions.evict(ID);
      await expect(unlimited.authenticate(context(certs))).rejects.toMatchObject({ code: 'ERR_IDENTITY_EVICTED' });
    } finally {
      await authority.close();
    }
  });
});

describe('MtlsAuthenticator and a tainted authority', () => {
  it('refuses an SVID of a tainted intermediate as authority-tainted; a tainted list never refuses a usable one', async () => {
    const authority = await createDevAuthority({ signers: 1 });
    try {
      const certs = pemBlocks((await authority.issue({ spiffeId: ID })).chainPem).map((der) => new Uint8Array(der));
      const auth = new MtlsAuthenticator({
        trustDomain: 'cluster.local',
        clock: at(),
        intermediates: () => authority.renewalIntermediatesPem(),
        tainted: () => authority.taintedIntermediatesPem(),
      });
      expect(await auth.authenticate(context(certs))).not.toBeNull();
      await authority.prepareNext();
      authority.activateNext('rotation');
      // Old: its leaves still renew (they are re-issued under the new one anyway).
      expect(await auth.authenticate(context(certs))).not.toBeNull();
      const old = authority.authorities().find((a) => a.state === 'old')!.id;
      authority.taint(old, 'suspected key compromise');
      expect(authority.renewalIntermediatesPem()).toHaveLength(1);
      await expect(auth.authenticate(context(certs))).rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED', details: { reason: 'authority-tainted' } });
      // The TLS listener still completes chains through it, so the refusal says why instead of failing the handshake.
      expect(authority.intermediatesPem()).toHaveLength(2);

      const fresh = pemBlocks((await authority.issue({ spiffeId: ID })).chainPem).map((der) => new Uint8Array(der));
      const forged = new MtlsAuthenticator({ trustDomain: 'cluster.local', clock: at(), intermediates: () => authority.renewalIntermediatesPem(), tainted: () => authority.intermediatesPem() });
      expect(await forged.authenticate(context(fresh))).not.toBeNull();
    } finally {
      await authority.close();
    }
  });
});

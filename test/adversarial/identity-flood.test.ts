import { afterEach, describe, expect, it } from 'vitest';
import { limits } from '../../src/limits.js';
import { identitiesForHeap, SecretCache } from '../../src/sds/cache.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FakeIssuer, settle } from '../fakes/fake-issuer.js';

/**
 * Issue #11 F4: a flood of new node identities. The default cap is sized from the heap
 * limit, so with a small heap the flood is refused with ERR_SDS_LIMIT `identities`
 * (RESOURCE_EXHAUSTED) instead of growing until the process runs out of memory.
 * The issuer is a fake (the cap is what is under test, not signing); the heap limit is
 * injected, as a real small heap would end the test runner.
 */

const caches: SecretCache[] = [];
afterEach(() => caches.splice(0).forEach((c) => c.close()));

const smallHeap = 4 * 1024 * 1024;

describe('node identity flood', () => {
  it('sizes the default cap from the heap limit, within [1, sdsCachedIdentitiesMax]', () => {
    expect(identitiesForHeap(smallHeap)).toBe(Math.floor((smallHeap * limits.sdsIdentityHeapShare) / limits.sdsIdentityHeapBytes));
    expect(identitiesForHeap(smallHeap)).toBeLessThan(limits.sdsCachedIdentitiesMax);
    expect(identitiesForHeap(64 * 1024 ** 3)).toBe(limits.sdsCachedIdentitiesMax);
    expect(identitiesForHeap(1)).toBe(1);
  });

  it('with a small heap limit, new identities past the cap are refused with ERR_SDS_LIMIT identities and the held ones keep their certificates', async () => {
    const clock = new FakeClock();
    const cache = new SecretCache({ issuer: new FakeIssuer(clock), clock, logger: silentLogger(), heapLimitBytes: smallHeap });
    caches.push(cache);
    const cap = identitiesForHeap(smallHeap);
    expect(cache.maxIdentities).toBe(cap);

    let served = 0;
    const refused: unknown[] = [];
    // Every identity stays watched (a live stream each), so none is idle to make room.
    for (let i = 0; i < cap + 50; i++) {
      try {
        cache.watchCertificate(`flood-${i}`, { spiffeId: `spiffe://cluster.local/flood/${i}` }, () => served++);
      } catch (err) {
        refused.push(err);
      }
    }
    await settle();
    expect(cache.stats().identities).toBe(cap);
    expect(served).toBe(cap);
    expect(refused).toHaveLength(50);
    for (const err of refused) expect(err).toMatchObject({ code: 'ERR_SDS_LIMIT', grpcStatus: 8, details: { reason: 'identities', max: cap } });
  });

  it('sds.maxIdentities overrides the heap-sized default, and never exceeds sdsCachedIdentitiesMax', () => {
    const clock = new FakeClock();
    const configured = new SecretCache({ issuer: new FakeIssuer(clock), clock, logger: silentLogger(), heapLimitBytes: smallHeap, maxIdentities: 1000 });
    const huge = new SecretCache({ issuer: new FakeIssuer(clock), clock, logger: silentLogger(), maxIdentities: limits.sdsCachedIdentitiesMax * 2 });
    caches.push(configured, huge);
    expect(configured.maxIdentities).toBe(1000);
    expect(huge.maxIdentities).toBe(limits.sdsCachedIdentitiesMax);
  });
});

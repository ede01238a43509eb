import { afterEach, describe, expect, it } from 'vitest';
import type { IssuedSvid, TrustBundle } from '../../src/ca/types.js';
import { SecretCache, type SecretCacheOptions } from '../../src/sds/cache.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FakeIssuer, settle } from '../fakes/fake-issuer.js';

const id = (n: string | number) => ({ spiffeId: `spiffe://cluster.local/w/${n}` });

function setup(options: Partial<SecretCacheOptions> = {}) {
  const clock = new FakeClock();
  const issuer = new FakeIssuer(clock);
  const cache = new SecretCache({ issuer, clock, logger: silentLogger(), random: () => 0, ...options });
  caches.push(cache);
  return { clock, issuer, cache };
}

function collect(cache: SecretCache, key: string, n: string | number = key) {
  const seen: IssuedSvid[] = [];
  const cancel = cache.watchCertificate(key, id(n), (svid) => seen.push(svid));
  return { seen, cancel };
}

const caches: SecretCache[] = [];
afterEach(() => caches.splice(0).forEach((c) => c.close()));

describe('SecretCache', () => {
  it('coalesces concurrent watchers of one node identity into one issue and one key', async () => {
    const { issuer, cache } = setup();
    const a = collect(cache, 'node-a');
    const b = collect(cache, 'node-a');
    await settle();
    expect(issuer.requests).toHaveLength(1);
    expect(a.seen).toHaveLength(1);
    expect(b.seen[0]).toBe(a.seen[0]);
  });

  it('never shares a key between different node identities', async () => {
    const { issuer, cache } = setup();
    const a = collect(cache, 'node-a', 'same');
    const b = collect(cache, 'node-b', 'same');
    await settle();
    expect(issuer.requests).toHaveLength(2);
    expect(a.seen[0]!.privateKeyPem).not.toBe(b.seen[0]!.privateKeyPem);
  });

  it.each([
    { random: 0, renewAtFraction: 0.5 },
    { random: 1, renewAtFraction: 0.4 },
  ])('renews at half of the lifetime minus jitter (random=$random)', async ({ random, renewAtFraction }) => {
    const { clock, issuer, cache } = setup({ random: () => random, renewJitter: 0.1 });
    const w = collect(cache, 'n');
    await settle();
    const renewAt = issuer.lifetimeMs * renewAtFraction;
    clock.advance(renewAt - 1);
    await settle();
    expect(issuer.requests).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(issuer.requests).toHaveLength(2);
    expect(w.seen.map((s) => s.serial)).toEqual(['0001', '0002']);
  });

  it('re-issues at once the certificates of a retired CA, and only those', async () => {
    const { issuer, cache } = setup();
    const old = collect(cache, 'old');
    await settle();
    issuer.caId = 'ca-2';
    const fresh = collect(cache, 'fresh');
    await settle();
    issuer.rotate('ca-3'); // retires ca-2 only
    await settle();
    expect(old.seen).toHaveLength(1);
    expect(fresh.seen.map((s) => s.caId)).toEqual(['ca-2', 'ca-3']);
  });

  it('re-issues once more when an in-flight issue comes back signed by a just-retired CA', async () => {
    const { issuer, cache } = setup();
    issuer.hold = true;
    const w = collect(cache, 'n');
    await settle();
    issuer.rotate('ca-2');
    issuer.hold = false;
    issuer.release();
    await settle();
    expect(w.seen.map((s) => s.caId)).toEqual(['ca-1', 'ca-2']);
    expect(issuer.requests).toHaveLength(2);
  });

  it('pushes a changed bundle to bundle watchers, and not an unchanged one', () => {
    const { issuer, cache } = setup();
    const seen: TrustBundle[] = [];
    cache.watchBundle((b) => seen.push(b));
    issuer.setBundle('ROOT-1', 'b1');
    issuer.setBundle('ROOT-1\nROOT-2', 'b2');
    expect(seen.map((b) => b.version)).toEqual(['b1', 'b2']);
  });

  it('bounds concurrent re-issues (bulk) and still re-issues every identity', async () => {
    const { issuer, cache } = setup({ issueConcurrency: 3 });
    const watchers = Array.from({ length: 10 }, (_, i) => collect(cache, `n${i}`));
    await settle();
    issuer.hold = true;
    issuer.rotate('ca-2');
    await settle();
    expect(issuer.inFlight).toBe(3);
    expect(cache.stats().queued).toBe(7);
    for (let round = 0; round < 5; round++) {
      issuer.release();
      await settle();
      expect(issuer.inFlight).toBeLessThanOrEqual(3);
    }
    expect(watchers.every((w) => w.seen.length === 2 && w.seen[1]!.caId === 'ca-2')).toBe(true);
    expect(issuer.requests.slice(10).every((r) => r.priority === 'bulk')).toBe(true);
  });

  it('issues a new subscriber\'s first certificate at once, as interactive, while a re-issue of every other one waits', async () => {
    const { issuer, cache } = setup({ issueConcurrency: 2 });
    Array.from({ length: 6 }, (_, i) => collect(cache, `n${i}`));
    await settle();
    issuer.hold = true;
    issuer.rotate('ca-2');
    await settle();
    expect(cache.stats().queued).toBe(4);
    const fresh = collect(cache, 'fresh');
    await settle();
    // Not queued behind the four bulk re-issues: it reached the issuer at once, marked interactive.
    expect(issuer.inFlight).toBe(3);
    expect(issuer.requests.at(-1)).toMatchObject({ spiffeId: id('fresh').spiffeId, priority: 'interactive' });
    issuer.release();
    await settle();
    expect(fresh.seen).toHaveLength(1);
    issuer.hold = false;
    issuer.release();
  });

  it('tells the watchers of a first certificate refused for load (RESOURCE_EXHAUSTED); other failures keep them waiting', async () => {
    const { issuer, cache } = setup();
    const shed: unknown[] = [];
    issuer.failNext = 1;
    cache.watchCertificate('waits', id('waits'), () => undefined, undefined, (err) => shed.push(err));
    await settle();
    expect(shed).toHaveLength(0);
    issuer.failNext = 1;
    issuer.failCode = 'ERR_CA_OVERLOADED';
    cache.watchCertificate('shed', id('shed'), () => undefined, undefined, (err) => shed.push(err));
    await settle();
    expect(shed).toHaveLength(1);
    expect(shed[0]).toMatchObject({ code: 'ERR_CA_OVERLOADED' });
  });

  it('keeps serving the current certificate when a renewal is refused for load, and retries it', async () => {
    const { clock, issuer, cache } = setup();
    const shed: unknown[] = [];
    const seen: IssuedSvid[] = [];
    cache.watchCertificate('n', id('n'), (svid) => seen.push(svid), undefined, (err) => shed.push(err));
    await settle();
    issuer.failNext = 1;
    issuer.failCode = 'ERR_CA_OVERLOADED';
    clock.advance(issuer.lifetimeMs / 2);
    await settle();
    expect(shed).toHaveLength(0);
    expect(seen).toHaveLength(1);
    clock.advance(1000);
    await settle();
    expect(seen).toHaveLength(2);
  });

  it('retries a failed first issue with backoff on the injected clock', async () => {
    const { clock, issuer, cache } = setup();
    issuer.failNext = 1;
    const w = collect(cache, 'n');
    await settle();
    expect(w.seen).toHaveLength(0);
    clock.advance(500); // random=0 → half of the 1 s base backoff
    await settle();
    expect(w.seen).toHaveLength(1);
  });

  it('keeps serving the current certificate while a renewal fails', async () => {
    const { clock, issuer, cache } = setup();
    const w = collect(cache, 'n');
    await settle();
    issuer.failNext = 2;
    clock.advance(issuer.lifetimeMs / 2);
    await settle();
    clock.advance(500);
    await settle();
    expect(w.seen).toHaveLength(1);
    clock.advance(1000);
    await settle();
    expect(w.seen).toHaveLength(2);
    expect(issuer.requests).toHaveLength(4);
  });

  it('keeps an idle identity for a reconnect, then forgets it', async () => {
    const { clock, issuer, cache } = setup({ idleMs: 60_000 });
    const first = collect(cache, 'n');
    await settle();
    first.cancel();
    clock.advance(30_000);
    const again = collect(cache, 'n');
    expect(again.seen[0]).toBe(first.seen[0]);
    again.cancel();
    clock.advance(60_000);
    expect(cache.stats().identities).toBe(0);
    collect(cache, 'n');
    await settle();
    expect(issuer.requests).toHaveLength(2);
  });

  it('isolates a throwing watcher from the others', async () => {
    const { cache } = setup();
    cache.watchCertificate('n', id('n'), () => {
      throw new Error('boom');
    });
    const ok = collect(cache, 'n');
    await settle();
    expect(ok.seen).toHaveLength(1);
  });

  it('unsubscribes from the issuer and drops timers on close', async () => {
    const { clock, issuer, cache } = setup();
    collect(cache, 'n');
    await settle();
    cache.close();
    expect(issuer.subscribers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

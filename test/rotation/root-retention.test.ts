/**
 * Root rotation, the end of it: the old root stays in the bundle for as long as any
 * leaf chained to it can still be valid, and leaves (a bundle event, which the SDS
 * cache pushes to every ROOTCA subscriber) once the last one has expired. Injected
 * clock, real Authority and signers, an upstream whose root is switched mid-run.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Authority } from '../../src/ca/authority.js';
import type { AuthorityEvent } from '../../src/ca/types.js';
import { Rotator } from '../../src/rotation/rotator.js';
import { RootWatcher } from '../../src/rotation/root-watcher.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import type { UpstreamAuthority } from '../../src/upstream/types.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { createTestRootCa } from '../fakes/upstream-ca.js';
import { splitPem } from '../helpers/pki.js';

const HOUR = 3600_000;
const norm = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('root rotation: the old root leaves the bundle only after the last leaf chained to it has expired', () => {
  it('keeps the old root while a leaf under it is valid, then drops it and pushes the bundle', async () => {
    const clock = new FakeClock(Date.now());
    const start = clock.now();
    const [rootA, rootB] = await Promise.all([createTestRootCa({ name: 'CN=root A', now: () => clock.now() }), createTestRootCa({ name: 'CN=root B', now: () => clock.now() })]);
    let current = rootA.upstream();
    const upstream: UpstreamAuthority = {
      name: 'rotating-upstream',
      mintIntermediate: (request, signal) => current.mintIntermediate(request, signal),
      fetchRoots: (signal) => current.fetchRoots!(signal),
      close: async () => undefined,
    };
    const ca = new Authority({
      trustDomain: 'cluster.local',
      upstream,
      clock,
      logger: silentLogger(),
      metrics: createMetrics(),
      keyType: 'ec-p256',
      intermediateTtlSeconds: 6 * 3600,
      defaultLeafTtlSeconds: 3600,
      maxLeafTtlSeconds: 3600,
      backdateSeconds: 30,
      signers: 1,
    });
    await ca.start();
    const rotator = new Rotator(ca, { clock, logger: silentLogger() });
    const watcher = new RootWatcher(upstream, ca, { clock, logger: silentLogger(), intervalMs: 60_000 });
    const bundles: string[][] = [];
    ca.subscribe((e: AuthorityEvent) => {
      if (e.type === 'bundle') bundles.push(splitPem(e.bundle.pem).map(norm));
    });
    const inBundle = () => splitPem(ca.bundle().pem).map(norm);
    const [a, b] = [norm(rootA.rootPem), norm(rootB.rootPem)];
    try {
      expect(inBundle()).toEqual([a]);
      // The upstream rotates its root and stops announcing the old one.
      current = rootB.upstream();
      await watcher.poll();
      expect(inBundle().sort()).toEqual([a, b].sort());

      // Scheduled rotation: prepare (under B) at 1/2, activate at 5/6 of the 6 h intermediate.
      let lastLeafUnderA: X509Certificate | undefined;
      let rootAGoneAt: number | undefined;
      for (let step = 0; step < 24 * 12; step++) {
        clock.advance(5 * 60_000);
        // A few steps at most per tick of the clock; more means the schedule is stuck.
        for (let i = 0; (await rotator.tick()) !== 'none'; i++) expect(i, `rotator stuck at step ${step}`).toBeLessThan(4);
        const svid = await ca.issue({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
        const chain = splitPem(svid.chainPem);
        const leaf = new X509Certificate(chain[0]!);
        const underA = chain.length > 1 ? new X509Certificate(chain[1]!).checkIssued(new X509Certificate(rootA.rootPem)) : false;
        if (underA) lastLeafUnderA = leaf;
        const now = clock.now();
        const aLeafStillValid = lastLeafUnderA !== undefined && Date.parse(lastLeafUnderA.validTo) > now;
        if (aLeafStillValid) expect(inBundle(), `root A left the bundle at +${(now - start) / HOUR} h while a leaf under it was valid`).toContain(a);
        if (!inBundle().includes(a) && rootAGoneAt === undefined) rootAGoneAt = now;
      }
      expect(lastLeafUnderA).toBeDefined();
      // It did leave, once its last leaf (and the intermediate that bounds it) expired, and the bundle was pushed without it.
      expect(rootAGoneAt).toBeDefined();
      expect(rootAGoneAt!).toBeGreaterThanOrEqual(Date.parse(lastLeafUnderA!.validTo));
      expect(inBundle()).toEqual([b]);
      expect(bundles.at(-1)).toEqual([b]);
    } finally {
      rotator.stop();
      watcher.stop();
      await ca.close();
    }
  }, 60_000);
});

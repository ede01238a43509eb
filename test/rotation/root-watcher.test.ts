import { X509Certificate } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { RootWatcher } from '../../src/rotation/root-watcher.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { AuthorityEvent } from '../../src/ca/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { capturingLogger, createTestRootCa } from '../fakes/upstream-ca.js';
import { splitPem, opensslVerify } from '../helpers/pki.js';
import { hasTools } from '../helpers/tools.js';

describe('RootWatcher: trust before use', () => {
  it.runIf(hasTools('openssl'))('publishes a newly announced upstream root in the bundle, keeps it on poll failure, and never drops the serving root', async () => {
    const clock = new FakeClock(Date.now());
    const ca = await createDevAuthority({ signers: 1 });
    try {
      const servingRoot = ca.bundle().pem;
      const next = await createTestRootCa();
      let roots: string[] | Error = [servingRoot];
      const source = {
        name: 'test',
        fetchRoots: async () => {
          if (roots instanceof Error) throw roots;
          return roots;
        },
      };
      const events: AuthorityEvent[] = [];
      ca.subscribe((e) => events.push(e));
      const watcher = new RootWatcher(source, ca, { clock, logger: silentLogger(), intervalMs: 60_000 });
      const tick = () => watcher.poll();
      // The schedule: one poll per interval on the injected clock.
      let polls = 0;
      const counted = { ...source, fetchRoots: async () => (polls++, source.fetchRoots()) };
      const scheduled = new RootWatcher(counted, { setAnnouncedRoots: () => undefined }, { clock, logger: silentLogger(), intervalMs: 60_000 });
      scheduled.start();
      clock.advance(59_999);
      expect(polls).toBe(0);
      clock.advance(1);
      await new Promise((r) => setTimeout(r, 10));
      expect(polls).toBe(1);
      scheduled.stop();

      await tick();
      expect(events).toEqual([]);

      roots = [servingRoot, next.rootPem];
      await tick();
      expect(splitPem(ca.bundle().pem)).toHaveLength(2);
      expect(events.filter((e) => e.type === 'bundle')).toHaveLength(1);
      // Leaves still chain to the serving root, which stays trusted.
      const svid = await ca.issue({ spiffeId: 'spiffe://cluster.local/x' });
      expect((await opensslVerify(svid.chainPem, ca.bundle().pem)).ok).toBe(true);

      roots = new Error('upstream down');
      await tick();
      expect(splitPem(ca.bundle().pem)).toHaveLength(2);

      // The upstream retires the new root: the serving root (from the active slot) stays.
      roots = [servingRoot];
      await tick();
      expect(ca.bundle().pem).toBe(servingRoot);
      watcher.stop();
    } finally {
      await ca.close();
    }
  });

  it('a root announced after the first poll is logged at warn with its fingerprint and reported once', async () => {
    const [first, second] = await Promise.all([createTestRootCa(), createTestRootCa()]);
    let roots = [first.rootPem];
    const fresh: string[] = [];
    const { logger, text } = capturingLogger();
    const watcher = new RootWatcher(
      { name: 'test', fetchRoots: async () => roots },
      { setAnnouncedRoots: () => undefined },
      { clock: new FakeClock(Date.now()), logger, intervalMs: 60_000, onNewRoot: (f) => fresh.push(f) },
    );
    await watcher.poll();
    expect(fresh).toEqual([]);
    roots = [first.rootPem, second.rootPem];
    await watcher.poll();
    await watcher.poll();
    const fingerprint = new X509Certificate(second.rootPem).fingerprint256;
    expect(fresh).toEqual([fingerprint]);
    const warned = text().split('\n').filter((l) => l.includes('new root'));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0]!)).toMatchObject({ level: 'warn', fingerprint256: fingerprint });
  });
});

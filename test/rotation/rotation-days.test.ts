import { describe, it, expect } from 'vitest';
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { Rotator } from '../../src/rotation/rotator.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { AuditLog } from '../../src/audit/log.js';
import { pemBlocks } from '../../src/x509/der.js';

const MINUTE = 60_000;

describe('scheduled rotation over days, on an injected clock', () => {
  it('always has an active authority, prepares before it activates, and no leaf outlives its intermediate', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const audit = new AuditLog({ clock });
    const ca = await createDevAuthority({ clock, intermediateTtlSeconds: 6 * 3600, maxLeafTtlSeconds: 2 * 3600, defaultLeafTtlSeconds: 2 * 3600, signers: 1, audit });
    const rotator = new Rotator(ca, { clock, logger: silentLogger() });
    try {
      const activations = new Set<string>();
      // Three days in 20-minute steps: 216 steps, each issuing a leaf.
      for (let step = 0; step < 3 * 72; step++) {
        clock.advance(20 * MINUTE);
        while ((await rotator.tick()) !== 'none');
        const active = ca.slotLifetimes().active;
        expect(active, `no active authority at step ${step}`).toBeDefined();
        expect(active!.notAfterMs).toBeGreaterThan(clock.now());
        const svid = await ca.issue({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
        const [leafDer, intermediateDer] = pemBlocks(svid.chainPem);
        const leaf = new X509Certificate(leafDer!);
        const intermediate = new X509Certificate(intermediateDer!);
        expect(leaf.verify(intermediate.publicKey)).toBe(true);
        expect(Date.parse(leaf.validTo)).toBeLessThanOrEqual(Date.parse(intermediate.validTo));
        // Authority ID is the intermediate's SKI.
        expect(svid.caId).toBe(new x509.X509Certificate(intermediate.raw).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
        activations.add(svid.caId);
      }
      // 72 hours of 6-hour intermediates activated at 5/6: about 14 rotations.
      expect(activations.size).toBeGreaterThanOrEqual(13);
      const byId = new Map<string, string[]>();
      for (const t of audit.tail({ types: ['transition'], limit: 1000 })) {
        if (t.type === 'transition') byId.set(t.authorityId, [...(byId.get(t.authorityId) ?? []), t.to]);
      }
      for (const [id, states] of byId) {
        expect(states[0], id).toBe('prepared');
        if (states.includes('active')) expect(states.indexOf('prepared'), id).toBeLessThan(states.indexOf('active'));
        // Scheduled rotation never taints or revokes.
        expect(states.filter((s) => s === 'tainted' || s === 'revoked'), id).toEqual([]);
      }
      // Expired authorities are dropped: only a bounded number are kept.
      expect(ca.authorities().length).toBeLessThanOrEqual(3);
    } finally {
      rotator.stop();
      await ca.close();
    }
  }, 60_000);
});

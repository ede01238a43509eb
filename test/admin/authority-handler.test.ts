import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { emergencyRotate, prepareAuthority, revokeAuthority, taintAuthority, type AuthorityAdminDeps } from '../../src/admin/authority-handler.js';
import { AuditLog } from '../../src/audit/log.js';
import { systemClock } from '../../src/clock.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { ConvergenceTracker, tagResource } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { pemBlocks } from '../../src/x509/der.js';
import { capturingLogger } from '../fakes/upstream-ca.js';
import { FakeClock } from '../fakes/fake-clock.js';

describe('RevokeAuthority --upstream', () => {
  it("revokes locally, then asks the upstream to revoke the intermediate's own serial", async () => {
    const ca = await createDevAuthority({ signers: 1 });
    try {
      const first = ca.slotLifetimes().active!.id;
      const firstCert = new X509Certificate(pemBlocks(ca.intermediatesPem()[0]!)[0]!);
      ca.activate((await ca.prepareNext()).id, 'test');
      ca.taint(first, 'test');
      const revoked: string[] = [];
      const deps = {
        authority: ca,
        convergence: new ConvergenceTracker({ clock: systemClock }),
        audit: new AuditLog({ clock: systemClock }),
        upstream: { name: 'recording', revoke: async (serial: string) => void revoked.push(serial) },
        clock: systemClock,
        logger: silentLogger(),
      };
      const status = await revokeAuthority(deps, { id: first, reason: 'test', force: false, upstream: true });
      expect(status.authorities.find((a) => a.id === first)!.state).toBe('revoked');
      expect(revoked).toEqual([firstCert.serialNumber]);
    } finally {
      await ca.close();
    }
  });
});

describe('EmergencyRotate onto a new root: trust before use', () => {
  /** An authority that records transitions; its next intermediate chains to `nextRoot`. */
  function setup(nextRoot: string) {
    const steps: string[] = [];
    const clock = new FakeClock();
    const convergence = new ConvergenceTracker({ clock });
    const logs = capturingLogger();
    const bundle = { trustDomain: 'cluster.local', pem: 'ROOT-A\nROOT-B\n', version: 'with-b' };
    const authority = {
      trustDomain: 'cluster.local',
      authorities: () => [{ id: 'aa', state: 'active' }],
      rootsOf: (state: 'active' | 'prepared') => (state === 'active' ? ['ROOT-A\n'] : [nextRoot]),
      prepareNext: async () => (steps.push('prepare'), { id: 'bb' }),
      activate: (id: string) => void steps.push(`activate ${id}`),
      taint: (id: string) => void steps.push(`taint ${id}`),
      bundle: () => bundle,
      exclusive: (_what: string, change: () => Promise<unknown>) => change(),
      revoke: () => {
        throw new Error('not expected');
      },
    };
    const deps = {
      authority,
      convergence,
      audit: new AuditLog({ clock }),
      upstream: { name: 'test' },
      clock,
      logger: logs.logger,
    } as unknown as AuthorityAdminDeps;
    // One Envoy's ROOTCA stream has been sent the bundle carrying ROOT-B, not yet ACKed.
    const rootca = convergence.subscriber('node-1');
    rootca.sent('n1', [tagResource({ name: 'ROOTCA', version: 'with-b', typeUrl: 't', value: new Uint8Array(), any: new Uint8Array() }, { bundleVersion: 'with-b' })]);
    return { steps, clock, deps, rootca, logs };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

  it('activates only once the bundle carrying the new root is ACKed', async () => {
    const { steps, deps, rootca } = setup('ROOT-B\n');
    const rotation = emergencyRotate(deps, { reason: 'drill', deadline_seconds: 30 });
    await settle();
    expect(steps).toEqual(['prepare']);
    rootca.answered('n1', false);
    expect(await rotation).toMatchObject({ new_authority_id: 'bb', tainted_authority_id: 'aa', complete: true });
    expect(steps).toEqual(['prepare', 'activate bb', 'taint aa']);
  });

  it('does not wait when the new intermediate chains to a root already in use', async () => {
    const { steps, deps } = setup('ROOT-A\n');
    await emergencyRotate(deps, { reason: 'drill', deadline_seconds: 30 });
    expect(steps).toEqual(['prepare', 'activate bb', 'taint aa']);
  });

  it('goes ahead at the deadline, with a warning, rather than stay on a suspect key', async () => {
    const { steps, deps, clock, logs } = setup('ROOT-B\n');
    const rotation = emergencyRotate(deps, { reason: 'drill', deadline_seconds: 5 });
    await settle();
    expect(steps).toEqual(['prepare']);
    clock.advance(5_000);
    await rotation;
    expect(steps).toEqual(['prepare', 'activate bb', 'taint aa']);
    expect(logs.lines().filter((l) => l.level === 'warn').map((l) => l.acked)).toEqual([0]);
  });
});

/** The admin calls over a real authority (self-signed upstream). */
function realDeps(ca: AuthorityAdminDeps['authority']): AuthorityAdminDeps {
  return {
    authority: ca,
    convergence: new ConvergenceTracker({ clock: systemClock }),
    audit: new AuditLog({ clock: systemClock }),
    upstream: { name: 'self-signed' },
    clock: systemClock,
    logger: silentLogger(),
  };
}

describe('concurrent authority changes (issue #10: one change at a time)', () => {
  async function setup() {
    const metrics = createMetrics();
    const ca = await createDevAuthority({ signers: 1, metrics });
    const deps = realDeps(ca);
    const mints = async () => (await metrics.upstreamRequests.get()).values.filter((v) => v.labels.outcome === 'minted').reduce((n, v) => n + v.value, 0);
    return { ca, deps, mints };
  }
  const reasonOf = (r: PromiseSettledResult<unknown>) =>
    r.status === 'rejected' ? `${(r.reason as { code?: string }).code} ${(r.reason as { details?: { reason?: string } }).details?.reason}` : 'ok';

  it('a second EmergencyRotate while one runs is refused (in-progress) before it revokes or mints; the first one wins', async () => {
    const { ca, deps, mints } = await setup();
    try {
      const first = ca.slotLifetimes().active!.id;
      const before = await mints();
      const results = await Promise.allSettled([0, 1, 2].map((i) => emergencyRotate(deps, { reason: `race-${i}`, deadline_seconds: 1 })));
      expect(results.map(reasonOf)).toEqual(['ok', 'ERR_AUTHORITY_TRANSITION in-progress', 'ERR_AUTHORITY_TRANSITION in-progress']);
      expect(await mints()).toBe(before + 1);
      const winner = (results[0] as PromiseFulfilledResult<{ new_authority_id: string }>).value.new_authority_id;
      const states = Object.fromEntries(ca.authorities().map((a) => [a.id, a.state]));
      expect(states).toEqual({ [first]: 'tainted', [winner]: 'active' });
      // Once it has finished, the next one goes through.
      await expect(emergencyRotate(deps, { reason: 'after', deadline_seconds: 1 })).resolves.toMatchObject({ tainted_authority_id: winner });
    } finally {
      await ca.close();
    }
  });

  it('concurrent PrepareAuthority: one mints, the others are refused before any upstream call', async () => {
    const { ca, deps, mints } = await setup();
    try {
      const before = await mints();
      const results = await Promise.allSettled([0, 1, 2, 3, 4].map(() => prepareAuthority(deps, { reason: 'race' })));
      expect(results.map(reasonOf).sort()).toEqual(['ERR_AUTHORITY_TRANSITION in-progress', 'ERR_AUTHORITY_TRANSITION in-progress', 'ERR_AUTHORITY_TRANSITION in-progress', 'ERR_AUTHORITY_TRANSITION in-progress', 'ok']);
      expect(await mints()).toBe(before + 1);
      // With one prepared, another prepare is refused before minting too.
      await expect(prepareAuthority(deps, { reason: 'again' })).rejects.toMatchObject({ details: { reason: 'already-prepared' } });
      expect(await mints()).toBe(before + 1);
    } finally {
      await ca.close();
    }
  });

  it('activate, taint and revoke are refused while a prepare is minting', async () => {
    const { ca } = await setup();
    try {
      const first = ca.slotLifetimes().active!.id;
      const preparing = ca.prepareNext(undefined, 'slow');
      expect(() => ca.revoke(first, { reason: 'x', force: true })).toThrow(expect.objectContaining({ details: { reason: 'in-progress' } }));
      expect(() => ca.taint(first, 'x')).toThrow(expect.objectContaining({ details: { reason: 'in-progress' } }));
      const next = await preparing;
      ca.activate(next.id, 'now idle');
      expect(ca.slotLifetimes().active!.id).toBe(next.id);
    } finally {
      await ca.close();
    }
  });
});

describe('admin reasons are plain, visible text (issue #10: terminal injection)', () => {
  it.each([
    ['an escape sequence', 'ok\u001b[2J\u001b[31mFAKE'],
    ['a line break', 'ok\nactive  forged row'],
    ['a C1 control', 'ok\u009b31m'],
    ['a bidi override', 'ok\u202egnp.exe'],
    ['only zero-width characters', '\u200b\u200c\u2060'],
    ['only spaces', '   '],
  ])('refuses a reason with %s (ERR_USAGE), changing nothing', async (_name, reason) => {
    const ca = await createDevAuthority({ signers: 1 });
    try {
      const first = ca.slotLifetimes().active!.id;
      ca.activate((await ca.prepareNext()).id, 'test');
      const deps = realDeps(ca);
      const before = ca.authorities();
      expect(() => taintAuthority(deps, { id: first, reason })).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
      await expect(prepareAuthority(deps, { reason })).rejects.toMatchObject({ code: 'ERR_USAGE' });
      await expect(emergencyRotate(deps, { reason, deadline_seconds: 1 })).rejects.toMatchObject({ code: 'ERR_USAGE' });
      expect(ca.authorities()).toEqual(before);
      // Unicode text that is neither is fine.
      taintAuthority(deps, { id: first, reason: 'Schlüssel kompromittiert 🔑' });
    } finally {
      await ca.close();
    }
  });
});

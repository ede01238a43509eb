/**
 * Issue #13 finding 6: every emergency-rotate row was its own rotation (300 rows, 300
 * upstream mints and 300 re-issues per subscriber). Rows that arrive while a rotation
 * is queued join it, and fleet-applied rotations are at least
 * limits.fleetEmergencyRotateMinIntervalMs apart. Memory store: the coalescing is in
 * FleetActions, whatever store delivers the rows.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetActions } from '../../src/admin/fleet.js';
import { AuditLog } from '../../src/audit/log.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { limits } from '../../src/limits.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { createMemoryStore } from '../../src/state/memory.js';
import type { StateStore } from '../../src/state/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';

let authority: Authority;
let fleet: FleetActions;
let store: StateStore;
let clock: FakeClock;

beforeEach(async () => {
  const audit = new AuditLog({ clock: systemClock });
  authority = await createDevAuthority({ audit, signers: 1 });
  clock = new FakeClock(Date.now());
  store = createMemoryStore(systemClock, { maxActions: 1_000 });
  const deps = { authority, convergence: new ConvergenceTracker({ clock: systemClock }), audit, upstream: { name: 'self-signed' }, clock, logger: silentLogger() };
  fleet = new FleetActions({ store, replicaId: 'replica-b', authority: deps });
  fleet.start();
  await expect.poll(() => store.actions.latestSeq()).toBe('0');
});
afterEach(async () => {
  fleet.stop();
  await authority.close();
});

const rotation = (reason: string) => ({ action: 'emergency-rotate' as const, authorityId: '', reason, by: 'ops', origin: 'replica-a' });
const tainted = () => authority.authorities().filter((a) => a.state === 'tainted');
const activeReason = () => authority.authorities().find((a) => a.state === 'active')!.reason;

describe('fleet emergency rotations are coalesced and rate-limited', () => {
  it('50 rows appended at once: one rotation whose reason names all of them', async () => {
    const rows = await Promise.all(Array.from({ length: 50 }, (_, i) => store.actions.append(rotation(`flood ${i}`))));
    await expect.poll(activeReason, { timeout: 10_000, interval: 20 }).toContain(`fleet actions ${rows[0]!.seq}..${rows[49]!.seq} (50)`);
    expect(tainted()).toHaveLength(1);
  });

  it('past the burst, rows wait for the interval and become one rotation; before it, none', async () => {
    const burst = limits.fleetEmergencyRotateBurst;
    for (let i = 1; i <= burst; i++) {
      await store.actions.append(rotation(`burst ${i}`));
      await expect.poll(() => tainted().length, { timeout: 10_000, interval: 20 }).toBe(i);
    }
    for (let i = 0; i < 30; i++) await store.actions.append(rotation(`later ${i}`));
    // Nothing more until the interval has passed (the clock has not moved).
    await new Promise((r) => setTimeout(r, 100));
    expect(tainted()).toHaveLength(burst);
    clock.advance(limits.fleetEmergencyRotateMinIntervalMs);
    await expect.poll(activeReason, { timeout: 10_000, interval: 20 }).toContain('(30)');
    expect(tainted()).toHaveLength(burst + 1);
  });
});

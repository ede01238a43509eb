/**
 * Issue #13 findings 7 and 8: heartbeat rows are written by whoever can write the
 * table. Two live rows claiming one authority id (a SKI: one key, one holder) make a
 * forwarded taint/revoke refuse (ERR_AUTHORITY_TRANSITION, claimed-twice) instead of
 * picking one; authority entries whose id is not our hex format or whose state is not
 * one of ours are dropped. Memory store: what is checked is how rows are read.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/admin/client.js';
import { startAdminServer } from '../../src/admin/server.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { FleetActions, sendToHolder } from '../../src/admin/fleet.js';
import { AuditLog } from '../../src/audit/log.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { isWcaError } from '../../src/errors.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { createMemoryStore } from '../../src/state/memory.js';
import type { StateStore } from '../../src/state/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const X = 'ab'.repeat(20);
let authority: Authority;
let store: StateStore;
let fleet: FleetActions;
let audit: AuditLog;

beforeAll(async () => {
  audit = new AuditLog({ clock: systemClock });
  authority = await createDevAuthority({ audit, signers: 1 });
  store = createMemoryStore(systemClock, { maxActions: 100 });
  fleet = new FleetActions({
    store,
    replicaId: 'replica-a',
    authority: { authority, convergence: new ConvergenceTracker({ clock: systemClock }), audit, upstream: { name: 'self-signed' }, clock: systemClock, logger: silentLogger() },
  });
});
afterAll(async () => authority?.close());

const beat = (id: string, authorities: unknown[]) => store.replicas.heartbeat(id, { authorities, subscribers: 0, converged: 0 }, 60_000);
const entry = (id: unknown, state: unknown) => ({ id, state, not_before: '', not_after: '', since: '', reason: 'r', subscribers: {} });

describe('forged heartbeat claims', () => {
  it('two live rows claiming one authority: taint/revoke forwarding refuses (claimed-twice), nothing appended', async () => {
    await beat('replica-b', [entry(X, 'old')]);
    await beat('replica-c', [entry(X, 'old')]);
    for (const action of ['taint', 'revoke'] as const) {
      const err = await sendToHolder(fleet, action, X, 'drill', 'ops').catch((e: unknown) => e);
      expect(isWcaError(err, 'ERR_AUTHORITY_TRANSITION') && err.details.reason).toBe('claimed-twice');
    }
    expect(await store.actions.latestSeq()).toBe('0');
    // Narrowed to one replica, the other's claim does not matter.
    expect(await fleet.peerState(X, 'replica-b')).toEqual({ replicaId: 'replica-b', state: 'old' });
  });

  it('entries with an id not in our format or an unknown state are dropped; good ones stay', async () => {
    const good = 'cd'.repeat(20);
    await beat('replica-d', [entry('AB'.repeat(20), 'old'), entry(`\u202e${good}`, 'old'), entry(good, 'bogus'), entry(42, 'old'), entry(good, 'active')]);
    const d = (await fleet.replicas()).find((r) => r.replica_id === 'replica-d')!;
    expect(d.authorities.map((a) => `${a.id}:${a.state}`)).toEqual([`${good}:active`]);
    expect(await fleet.peerState('AB'.repeat(20))).toBeUndefined();
  });

  it('a taint forwarded to its holder is audited as sent, not ok, and the answer names the replica', async () => {
    const Y = 'ef'.repeat(20);
    await beat('replica-e', [entry(Y, 'old')]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wca-forged-claims-'));
    const admin = await startAdminServer({
      joinTokens: new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 }),
      logger: silentLogger(),
      listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
      audit,
      authority: { authority, convergence: new ConvergenceTracker({ clock: systemClock }), audit, upstream: { name: 'self-signed' }, clock: systemClock, logger: silentLogger() },
      fleet,
      replicaId: 'replica-a',
    });
    const client = connectAdmin(admin.path);
    try {
      const r = await client.taintAuthority({ id: Y, reason: 'drill', replica: 'replica-e' });
      expect(r.sent_to).toBe('replica-e');
      const last = audit.tail({ types: ['admin'] }).at(-1) as unknown as { rpc: string; outcome: string };
      expect(last).toMatchObject({ rpc: 'TaintAuthority', outcome: 'sent' });
    } finally {
      client.close();
      await admin.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

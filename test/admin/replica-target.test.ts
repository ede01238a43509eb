/**
 * `--replica` with the memory store (one process): only this replica's own id is
 * live. Every refusal happens before anything changes; the replica's own id narrows
 * to this process. The actions log's target is honoured by FleetActions.apply
 * (checked on a memory store shared by two FleetActions, as two replicas share one).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { FleetActions } from '../../src/admin/fleet.js';
import { resolveReplica } from '../../src/admin/replica-target.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { AuditLog } from '../../src/audit/log.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { ExitCode, isWcaError } from '../../src/errors.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { defaultReplicaId, replicaIdSchema } from '../../src/state/replica-id.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { runMain } from '../cli/in-process.js';
import { FakeClock } from '../fakes/fake-clock.js';

const SELF = 'solo-1';
let dir: string;
let admin: AdminServer;
let client: AdminClient;
let authority: Authority;
let audit: AuditLog;
const logger = silentLogger();
const convergence = new ConvergenceTracker({ clock: systemClock });
const deps = () => ({ authority, convergence, audit, upstream: { name: 'self-signed' }, clock: systemClock, logger });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-replica-target-'));
  audit = new AuditLog({ clock: systemClock });
  authority = await createDevAuthority({ audit, signers: 1 });
  admin = await startAdminServer({
    joinTokens: new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 }),
    logger,
    listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
    audit,
    authority: deps(),
    replicaId: SELF,
  });
  client = connectAdmin(admin.path);
});
afterAll(async () => {
  client?.close();
  await admin?.close();
  await authority?.close();
  await rm(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runMain(...args, '--admin-socket', `unix:${admin.path}`);
const active = () => authority.authorities().find((a) => a.state === 'active')!.id;
const states = () => authority.authorities().map((a) => `${a.id}:${a.state}`);
const refusal = (err: unknown) => (isWcaError(err) ? { code: err.code, reason: err.details.reason } : err);

describe('--replica with state.store memory', () => {
  it('another id is NOT_FOUND (ERR_REPLICA_NOT_FOUND, unknown-replica, exit 2) naming it and this replica; nothing changes', async () => {
    const before = states();
    for (const call of [
      () => client.emergencyRotate({ reason: 'drill', deadline_seconds: 1, replica: 'other-1' }),
      () => client.getAuthorityStatus({ replica: 'other-1' }),
      () => client.taintAuthority({ id: active(), reason: 'drill', replica: 'other-1' }),
      () => client.revokeAuthority({ id: active(), reason: 'drill', force: true, upstream: false, replica: 'other-1' }),
      () => client.activateAuthority({ id: active(), reason: 'drill', replica: 'other-1' }),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(refusal(err)).toEqual({ code: 'ERR_REPLICA_NOT_FOUND', reason: 'unknown-replica' });
      expect((err as Error).message).toContain('replica other-1 is not live');
      expect((err as Error).message).toContain(`live replicas: ${SELF}`);
    }
    const r = await cli('rotate', '--emergency', '--reason', 'drill', '--replica', 'other-1');
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('replica other-1 is not live');
    expect(states()).toEqual(before);
  });

  it('a malformed id is refused at the edge: INVALID_ARGUMENT from the server, exit 2 naming --replica from the CLI', async () => {
    for (const bad of ['a b', '-lead', 'x'.repeat(129), 'esc\u001b[31m', 'ünï']) {
      expect(refusal(await client.emergencyRotate({ reason: 'drill', deadline_seconds: 1, replica: bad }).catch((e: unknown) => e))).toEqual({ code: 'ERR_USAGE', reason: undefined });
      const r = await cli('authority', 'show', '--replica', bad);
      expect(r.code).toBe(ExitCode.USAGE);
      expect(r.stderr).toMatch(/^error: --replica: /);
    }
  });

  it("this replica's own id: rotate re-keys here alone (nothing for a log), show says which replica it is", async () => {
    const previous = active();
    const r = await cli('rotate', '--emergency', '--reason', 'local drill', '--deadline', '1s', '--replica', SELF, '-o', 'json');
    expect(r.code).toBe(ExitCode.OK);
    const answer = JSON.parse(r.stdout);
    expect(answer).toMatchObject({ tainted_authority_id: previous, replica: SELF, sent: false, fleet_action_seq: '' });
    expect(answer.new_authority_id).toBe(active());
    const show = await cli('authority', 'show', '--replica', SELF, '-o', 'json');
    expect(JSON.parse(show.stdout)).toMatchObject({ replica: SELF, replicas: [] });
    expect((await cli('authority', 'show', '--replica', SELF)).stdout).toMatch(new RegExp(`^replica: ${SELF}$`, 'm'));
  });

  it("taint --replica <self> of an ID this replica does not hold: NOT_FOUND with not-on-replica; the audit records the target", async () => {
    const err = await client.taintAuthority({ id: 'ab'.repeat(20), reason: 'drill', replica: SELF }).catch((e: unknown) => e);
    expect(refusal(err)).toEqual({ code: 'ERR_AUTHORITY_NOT_FOUND', reason: 'not-on-replica' });
    const tainted = authority.authorities().find((a) => a.state === 'tainted')!.id;
    const revoked = await client.revokeAuthority({ id: tainted, reason: 'confirmed', force: false, upstream: false, replica: SELF });
    expect(revoked.authorities.find((a) => a.id === tainted)!.state).toBe('revoked');
    const records = audit.tail({ limit: 20, afterSeq: 0, types: ['admin'] }) as unknown as { rpc: string; outcome: string; detail?: Record<string, unknown> }[];
    expect(records.filter((e) => e.rpc === 'RevokeAuthority' && e.outcome === 'ok').at(-1)!.detail).toMatchObject({ id: tainted, replica: SELF });
  });
});

describe('FleetActions and a targeted action (memory store shared by two replicas)', () => {
  it('only the target applies it; an untargeted action reaches every replica but its origin', async () => {
    const store = createMemoryStore(systemClock, { maxActions: 100 });
    const auditB = new AuditLog({ clock: systemClock });
    const b = await createDevAuthority({ audit: auditB, signers: 1 });
    const fleetB = new FleetActions({ store, replicaId: 'replica-b', authority: { ...deps(), authority: b, audit: auditB, convergence: new ConvergenceTracker({ clock: systemClock }) } });
    try {
      // Subscribed from seq 0 (the log is empty): the actions below are delivered whenever that happens.
      fleetB.start();
      const first = b.authorities().find((x) => x.state === 'active')!.id;
      await store.actions.append({ action: 'emergency-rotate', authorityId: '', reason: 'for c', by: 'ops', origin: 'replica-a', target: 'replica-c' });
      const forB = await store.actions.append({ action: 'emergency-rotate', authorityId: '', reason: 'for b', by: 'ops', origin: 'replica-a', target: 'replica-b' });
      await expect.poll(() => b.authorities().find((x) => x.state === 'active')!.reason, { timeout: 10_000, interval: 20 }).toContain(`fleet action ${forB.seq} `);
      // Applied in log order: had the one for replica-c been applied, b would have rotated twice.
      expect(b.authorities().filter((x) => x.state === 'tainted').map((x) => x.id)).toEqual([first]);
    } finally {
      fleetB.stop();
      await b.close();
    }
  });
});

describe('an unknown replica among many live ones', () => {
  it('lists at most 10 live ids, only printable ones, and counts the rest', async () => {
    const store = createMemoryStore(systemClock, { maxActions: 10 });
    for (let i = 0; i < 14; i++) await store.replicas.heartbeat(`r-${String(i).padStart(2, '0')}`, {}, 60_000);
    await store.replicas.heartbeat('\u001b[2Jforged', {}, 60_000);
    const fleet = new FleetActions({ store, replicaId: 'r-00', authority: deps() });
    const err = await resolveReplica('ghost', 'EmergencyRotate', 'r-00', fleet).catch((e: unknown) => e);
    expect(refusal(err)).toEqual({ code: 'ERR_REPLICA_NOT_FOUND', reason: 'unknown-replica' });
    const message = (err as Error).message;
    expect(message).toContain(`live replicas: ${Array.from({ length: 10 }, (_, i) => `r-${String(i).padStart(2, '0')}`).join(', ')} (and 5 more)`);
    expect(message).not.toContain('\u001b');
    expect(await resolveReplica('r-13', 'EmergencyRotate', 'r-00', fleet)).toEqual({ kind: 'peer', replicaId: 'r-13' });
  });
});

describe('replica ids', () => {
  it('the default id is the host name cut to the grammar plus the suffix', () => {
    expect(defaultReplicaId('pod-7f9c.cluster', 'a1b2c3')).toBe('pod-7f9c.cluster-a1b2c3');
    expect(defaultReplicaId('-_weird host/name\u001b', 'a1b2c3')).toBe('weird-host-name--a1b2c3');
    expect(defaultReplicaId('', 'a1b2c3')).toBe('replica-a1b2c3');
    for (const id of [defaultReplicaId('h'.repeat(300), 'a1b2c3'), defaultReplicaId('-_weird host/name\u001b', 'a1b2c3')]) expect(replicaIdSchema.safeParse(id).success).toBe(true);
  });
});

/**
 * Issue #13 finding 0: a rotation flood leaves hundreds of tainted authorities listed;
 * the heartbeat status outgrew replicaStatusMaxBytes, every beat failed (logged at
 * debug) and the replica silently left the fleet. The status is now built within the
 * budget, and a failing beat is logged at warn (once a minute) and counted.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { WcaError } from '../../src/errors.js';
import { limits } from '../../src/limits.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { Heartbeat } from '../../src/state/heartbeat.js';
import { boundedStatus, type StatusAuthority } from '../../src/state/heartbeat-status.js';
import type { ReplicaMembership } from '../../src/state/types.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createPostgresStore } from '../../src/state/postgres/store.js';
import { systemClock } from '../../src/clock.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { hasTools } from '../helpers/tools.js';
import { postgresConfig } from './postgres-config.js';

let authority: Authority;
beforeAll(async () => {
  authority = await createDevAuthority({ signers: 1 });
});
afterAll(async () => authority?.close());

const entry = (i: number, state: string, reason = 'x'.repeat(1_000)): StatusAuthority => ({
  id: i.toString(16).padStart(40, '0'),
  state,
  not_before: new Date(0).toISOString(),
  not_after: new Date(1e13).toISOString(),
  since: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  reason,
  subscribers: { acked: 0, nacked: 0, pending: 0 },
});

/** What app.ts publishes after 300 emergency rotations with 1,000-character reasons. */
function flooded() {
  const chain = authority.renewalIntermediatesPem()[0]!;
  return {
    summary: { bundle_version: '7', subscribers: 3, converged: 3, bundle_acked: 3, bundle_subscribers: 3 },
    authorities: [entry(1_000, 'active', 'emergency'), entry(999, 'prepared'), ...Array.from({ length: 300 }, (_, i) => entry(i, 'tainted'))],
    intermediates: Array.from({ length: 8 }, () => chain),
    taintedIntermediates: Array.from({ length: 8 }, () => chain),
  };
}

/** Refuses a status above the limit, as the PostgreSQL store does (src/state/postgres/store.ts). */
function limitedMembership(inner: ReplicaMembership): ReplicaMembership {
  return {
    ...inner,
    heartbeat: async (id, status, ttlMs) => {
      const bytes = Buffer.byteLength(JSON.stringify(status));
      if (bytes > limits.replicaStatusMaxBytes) throw Object.assign(new Error(`replica status is ${bytes} bytes`), { code: 'ERR_INTERNAL' });
      return inner.heartbeat(id, status, ttlMs);
    },
    live: () => inner.live(),
  };
}

describe('heartbeat status within the byte budget', () => {
  it('keeps the serving authorities and chains, then the newest tainted ones, and says how many it left out', () => {
    const parts = flooded();
    const status = boundedStatus(parts);
    expect(Buffer.byteLength(JSON.stringify(status))).toBeLessThanOrEqual(limits.replicaStatusMaxBytes);
    const listed = status.authorities as StatusAuthority[];
    expect(listed.slice(0, 2).map((a) => a.state)).toEqual(['active', 'prepared']);
    expect(status.intermediates).toHaveLength(8);
    // Newest tainted first.
    expect(listed[2]!.id).toBe(entry(299, 'tainted').id);
    expect(listed.every((a) => a.reason.length <= limits.heartbeatReasonMaxChars)).toBe(true);
    expect(status.authorities_omitted).toBe(parts.authorities.length - listed.length);
    expect(status.authorities_omitted).toBeGreaterThan(0);
    expect(status.tainted_intermediates_omitted).toBe(8 - (status.taintedIntermediates as string[]).length);
  });

  it('lists everything when it fits', () => {
    const parts = { ...flooded(), authorities: flooded().authorities.slice(0, 5) };
    const status = boundedStatus(parts);
    expect(status.authorities_omitted).toBe(0);
    expect(status.tainted_intermediates_omitted).toBe(0);
  });

  it('a flooded replica still beats and stays live', async () => {
    const clock = new FakeClock(Date.now());
    const store = createMemoryStore(clock, { maxActions: 10 });
    const membership = limitedMembership(store.replicas);
    let failures = 0;
    const beat = new Heartbeat({
      replicaId: 'r1',
      membership,
      status: () => boundedStatus(flooded()),
      intervalMs: 1_000,
      clock,
      logger: createLogger({ level: 'silent' }),
      onFailure: () => failures++,
    });
    beat.start();
    await expect.poll(async () => (await membership.live()).map((r) => r.replicaId)).toEqual(['r1']);
    beat.stop();
    expect(failures).toBe(0);
  });
});

describe('a failing heartbeat', () => {
  it('is logged at warn once per interval, counted every beat, and its recovery logged', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const clock = new FakeClock(Date.now());
    let fail = true;
    let beats = 0;
    let failures = 0;
    const membership = {
      heartbeat: async () => {
        beats++;
        if (fail) throw Object.assign(new Error('replica status is 70000 bytes'), { code: 'ERR_INTERNAL' });
      },
    } as unknown as ReplicaMembership;
    const beat = new Heartbeat({
      replicaId: 'r1',
      membership,
      status: () => ({}),
      intervalMs: 1_000,
      clock,
      logger: createLogger({ level: 'info', destination: sink }),
      onFailure: () => failures++,
    });
    beat.start();
    for (let i = 1; i < 10; i++) {
      await expect.poll(() => beats).toBe(i);
      await new Promise((r) => setImmediate(r));
      clock.advance(1_000);
    }
    await expect.poll(() => failures).toBe(10);
    const warned = lines.map((l) => JSON.parse(l) as { level: string; msg: string; code?: string });
    expect(warned.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(warned[0]!.code).toBe('ERR_INTERNAL');
    expect(beat.problem()).toMatch(/heartbeat failing/);
    fail = false;
    await new Promise((r) => setImmediate(r));
    clock.advance(1_000);
    await expect.poll(() => lines.some((l) => l.includes('recovered'))).toBe(true);
    expect(beat.problem()).toBeUndefined();
    beat.stop();
  });

  it('an unreachable store leaves /readyz to the store line (which clears when it is back); the failure is still counted', async () => {
    const clock = new FakeClock(Date.now());
    let failures = 0;
    const membership = {
      heartbeat: async () => {
        throw new WcaError('ERR_STATE_STORE_UNAVAILABLE', 'down', { details: { reason: 'down' } });
      },
    } as unknown as ReplicaMembership;
    const beat = new Heartbeat({ replicaId: 'r1', membership, status: () => ({}), intervalMs: 1_000, clock, logger: createLogger({ level: 'silent' }), onFailure: () => failures++ });
    beat.start();
    await expect.poll(() => failures).toBe(1);
    expect(beat.problem()).toBeUndefined();
    beat.stop();
  });
});

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('a flooded replica on real PostgreSQL', () => {
  it('the store takes the bounded status (and refuses the unbounded one): the replica stays live', async () => {
    const server = await startTestPostgres();
    const store = await createPostgresStore(postgresConfig(server.config(await server.createDatabase())), { clock: systemClock, logger: createLogger({ level: 'silent' }), env: {} });
    try {
      const parts = flooded();
      const everything = { ...parts.summary, authorities: parts.authorities, intermediates: parts.intermediates, taintedIntermediates: parts.taintedIntermediates };
      await expect(store.replicas.heartbeat('r1', everything, 60_000)).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
      await store.replicas.heartbeat('r1', boundedStatus(parts), 60_000);
      expect((await store.replicas.live()).map((r) => r.replicaId)).toEqual(['r1']);
    } finally {
      await store.close();
      await server.close();
    }
  }, 30_000);
});

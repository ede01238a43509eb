/**
 * The StateStore contract, one set of cases run against both implementations:
 * memory (one process) and postgres (a real server this file starts). Times are
 * absolute (`expiresAtMs`), so expiry needs no waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../src/clock.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { createPostgresStore } from '../../src/state/postgres/store.js';
import { postgresConfig } from './postgres-config.js';
import type { AuthorityAction, StateStore, StoredJoinToken } from '../../src/state/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { hasTools } from '../helpers/tools.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/** Two handles on one shared state: for postgres two stores with their own pools, as two replicas have. */
interface Fleet {
  a: StateStore;
  b: StateStore;
  close(): Promise<void>;
}

let server: TestPostgres | undefined;
const usePostgres = hasTools('initdb', 'pgCtl', 'runuser');

beforeAll(async () => {
  if (usePostgres) server = await startTestPostgres();
}, 30_000);
afterAll(async () => server?.close());

const implementations: [string, () => Promise<Fleet>][] = [
  [
    'memory',
    async () => {
      const store = createMemoryStore(systemClock, { maxActions: 1000 });
      return { a: store, b: store, close: () => store.close() };
    },
  ],
  ...(usePostgres
    ? ([
        [
          'postgres',
          async () => {
            const config = postgresConfig(server!.config(await server!.createDatabase()));
            const deps = { clock: systemClock, logger: silentLogger(), env: {} };
            const [a, b] = await Promise.all([createPostgresStore(config, deps), createPostgresStore(config, deps)]);
            return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
          },
        ],
      ] as [string, () => Promise<Fleet>][])
    : []),
];

const token = (overrides: Partial<StoredJoinToken> = {}): StoredJoinToken => {
  const hash = randomBytes(32).toString('hex');
  return { hash, id: hash.slice(0, 16), spiffeId: 'spiffe://cluster.local/vm/db-1', dnsNames: ['db-1.vm.internal'], expiresAtMs: Date.now() + 600_000, ...overrides };
};

describe.each(implementations)('StateStore contract: %s', (_name, open) => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await open();
  }, 30_000);
  afterAll(async () => fleet?.close());

  it('grants a token once with its SPIFFE ID and DNS names; the other replica then sees it used; an unknown hash is unknown', async () => {
    const t = token();
    expect(await fleet.a.joinTokens.put(t, 1000)).toBe(true);
    expect(await fleet.b.joinTokens.outstanding()).toBeGreaterThanOrEqual(1);
    expect(await fleet.b.joinTokens.consume(t.hash, 'node-1', 0)).toEqual({
      outcome: 'granted',
      grant: { id: t.id, spiffeId: t.spiffeId, dnsNames: ['db-1.vm.internal'] },
    });
    expect(await fleet.a.joinTokens.consume(t.hash, 'node-1', 0)).toEqual({ outcome: 'used', id: t.id });
    expect(await fleet.a.joinTokens.consume(t.hash, 'node-2', 0)).toEqual({ outcome: 'used', id: t.id });
    expect(await fleet.a.joinTokens.consume(randomBytes(32).toString('hex'), 'node-1', 0)).toEqual({ outcome: 'unknown' });
  });

  it('lets the same claimant present a spent token again within the reuse window, on any replica, and nobody else', async () => {
    const t = token();
    await fleet.a.joinTokens.put(t, 1000);
    expect((await fleet.a.joinTokens.consume(t.hash, 'conn-1', 30_000)).outcome).toBe('granted');
    expect((await fleet.b.joinTokens.consume(t.hash, 'conn-1', 30_000)).outcome).toBe('granted');
    expect(await fleet.b.joinTokens.consume(t.hash, 'conn-2', 30_000)).toEqual({ outcome: 'used', id: t.id });
  });

  it('refuses an expired token with when it expired, and does not count it as outstanding', async () => {
    const before = await fleet.a.joinTokens.outstanding();
    const expiresAtMs = Date.now() - 5_000;
    const t = token({ expiresAtMs });
    await fleet.a.joinTokens.put(t, 1000);
    expect(await fleet.a.joinTokens.outstanding()).toBe(before);
    const result = await fleet.b.joinTokens.consume(t.hash, 'node-1', 0);
    expect(result).toMatchObject({ outcome: 'expired', id: t.id });
    expect(Math.abs((result as { expiresAtMs: number }).expiresAtMs - expiresAtMs)).toBeLessThan(2);
  });

  it('refuses to store more live tokens than the limit, counting those of every replica', async () => {
    // Two empty shared states (for postgres a database each), opened side by side.
    const [fresh, other] = await Promise.all([open(), open()]);
    try {
      expect(await fresh.a.joinTokens.put(token(), 2)).toBe(true);
      expect(await fresh.b.joinTokens.put(token(), 2)).toBe(true);
      expect(await fresh.a.joinTokens.put(token(), 2)).toBe(false);
      // Expired ones make room.
      for (let i = 0; i < 2; i++) expect(await other.a.joinTokens.put(token({ expiresAtMs: Date.now() + 100 }), 2)).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      expect(await other.b.joinTokens.put(token(), 2)).toBe(true);
    } finally {
      await Promise.all([fresh.close(), other.close()]);
    }
  });

  it('of 100 concurrent presentations of one token on two replicas (distinct claimants), exactly one wins', async () => {
    const t = token();
    await fleet.a.joinTokens.put(t, 1000);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? fleet.a : fleet.b).joinTokens.consume(t.hash, `claimant-${i}`, 30_000)),
    );
    expect(results.filter((r) => r.outcome === 'granted')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'used')).toHaveLength(99);
  });

  it('appends authority actions in order and reads them back after a sequence number', async () => {
    const first = await fleet.a.actions.append({ action: 'taint', authorityId: 'auth-1', reason: 'key exposure', by: 'unix:/admin.sock', origin: 'replica-a' });
    const second = await fleet.b.actions.append({ action: 'revoke', authorityId: 'auth-1', reason: 'key exposure', by: 'unix:/admin.sock', origin: 'replica-a' });
    expect(BigInt(second.seq)).toBeGreaterThan(BigInt(first.seq));
    expect(first).toMatchObject({ action: 'taint', authorityId: 'auth-1', reason: 'key exposure', by: 'unix:/admin.sock', origin: 'replica-a' });
    expect((await fleet.a.actions.since(first.seq)).map((a) => [a.seq, a.action])).toEqual([[second.seq, 'revoke']]);
    expect(await fleet.b.actions.since(second.seq)).toEqual([]);
    expect(await fleet.a.actions.latestSeq()).toBe(second.seq);
    expect(second.origin).toBe('replica-a');
  });

  it("carries an action's target (the one replica that applies it) to the other replica; an untargeted action has none", async () => {
    const targeted = await fleet.a.actions.append({ action: 'emergency-rotate', authorityId: '', reason: 'one', by: 'ops', origin: 'replica-a', target: 'replica-b' });
    const everyone = await fleet.a.actions.append({ action: 'emergency-rotate', authorityId: '', reason: 'all', by: 'ops', origin: 'replica-a' });
    expect(targeted.target).toBe('replica-b');
    const read = await fleet.b.actions.since(String(BigInt(targeted.seq) - 1n));
    expect(read.map((a) => [a.seq, a.target])).toEqual([
      [targeted.seq, 'replica-b'],
      [everyone.seq, undefined],
    ]);
  });

  it('delivers actions appended on one replica to subscribers on the other, including those from before subscribing', async () => {
    const earlier = await fleet.a.actions.append({ action: 'taint', authorityId: 'auth-2', reason: 'drill', by: 'ops', origin: 'replica-a' });
    const seen: AuthorityAction[] = [];
    const unsubscribe = fleet.b.actions.subscribe(String(BigInt(earlier.seq) - 1n), (action) => seen.push(action));
    try {
      const later = await fleet.a.actions.append({ action: 'emergency-rotate', authorityId: 'auth-2', reason: 'drill', by: 'ops', origin: 'replica-a' });
      await expect.poll(() => seen.map((a) => a.seq), { timeout: 10_000 }).toEqual([earlier.seq, later.seq]);
      expect(seen[1]).toMatchObject({ action: 'emergency-rotate', authorityId: 'auth-2' });
    } finally {
      unsubscribe();
    }
  });

  it('lists replicas whose heartbeat has not expired, with their status', async () => {
    await fleet.a.replicas.heartbeat('replica-a', { subscribers: 3, authorities: [{ id: 'x', state: 'active' }] }, 60_000);
    await fleet.b.replicas.heartbeat('replica-b', { subscribers: 1 }, 60_000);
    await fleet.b.replicas.heartbeat('replica-gone', { subscribers: 0 }, 1);
    await new Promise((r) => setTimeout(r, 50));
    const live = await fleet.a.replicas.live();
    expect(live.map((r) => r.replicaId)).toEqual(['replica-a', 'replica-b']);
    expect(live[0]!.status).toEqual({ subscribers: 3, authorities: [{ id: 'x', state: 'active' }] });
    expect(Math.abs(live[0]!.lastSeenMs - Date.now())).toBeLessThan(10_000);
  });
});

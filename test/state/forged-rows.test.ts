/**
 * Rows written straight into the shared tables (anyone with write access to the
 * database), against a real PostgreSQL: an action row with a seq the table's sequence
 * never handed out (above 2^53) is never applied and does not hide later actions; a
 * malformed row is skipped once with a warning; forged replica rows with low-sorting
 * ids do not hide real replicas from the membership list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { systemClock } from '../../src/clock.js';
import { createPostgresStore } from '../../src/state/postgres/store.js';
import type { AuthorityAction, StateStore } from '../../src/state/types.js';
import { silentLogger, type Logger } from '../../src/telemetry/logger.js';
import { hasTools } from '../helpers/tools.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { postgresConfig } from './postgres-config.js';

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('forged rows in the shared PostgreSQL tables', () => {
  let server: TestPostgres;
  let database: string;
  let sql: pg.Client;
  const stores: StateStore[] = [];
  const warnings: string[] = [];
  const logger = silentLogger();
  logger.warn = ((_obj: unknown, msg: string) => void warnings.push(msg)) as Logger['warn'];

  beforeAll(async () => {
    server = await startTestPostgres();
    database = await server.createDatabase();
    const config = postgresConfig(server.config(database));
    for (let i = 0; i < 2; i++) stores.push(await createPostgresStore(config, { clock: systemClock, logger, env: {} }));
    sql = new pg.Client(server.config(database));
    await sql.connect();
  }, 30_000);
  afterAll(async () => {
    await sql?.end();
    await Promise.all(stores.map((s) => s.close()));
    await server?.close();
  });

  const bypassingTriggers = async (statement: string) => {
    await sql.query('SET session_replication_role = replica');
    try {
      await sql.query(statement);
    } finally {
      await sql.query('SET session_replication_role = DEFAULT');
    }
  };
  const append = (reason: string) => stores[1]!.actions.append({ action: 'taint', authorityId: 'x', reason, by: 'ops', origin: 'replica-b' });

  it('a row above the sequence (seq 2^53+1) is never applied, however many notifications follow, and later real actions still arrive once each', async () => {
    const [a] = stores;
    const seen: AuthorityAction[] = [];
    const unsubscribe = a!.actions.subscribe(await a!.actions.latestSeq(), (action) => seen.push(action));
    const before = await append('before');
    await expect.poll(() => seen.map((x) => x.reason), { timeout: 10_000 }).toEqual(['before']);

    // Migration 003's trigger replaces an explicit seq; only an owner switching triggers off keeps one.
    await bypassingTriggers(`INSERT INTO wca_authority_actions (seq, action, authority_id, reason, requested_by, origin) VALUES (9007199254740993, 'emergency-rotate', '', 'forged', 'x', 'forger')`);
    // Each notification is its own catch-up read (they run one at a time, in order, none coalesced), so three
    // notifications sent back to back are three reads over the forged row, all done before the one that `after` starts.
    for (let i = 0; i < 3; i++) await sql.query(`NOTIFY wca_authority_actions, 'garbage-${i}'`);
    const after = await append('after');
    await expect.poll(() => seen.map((x) => x.reason), { timeout: 10_000 }).toEqual(['before', 'after']);
    await sql.query(`NOTIFY wca_authority_actions, 'again'`);
    // The read that notification starts has run once a later append arrives (notifications come in commit order and
    // catch-up reads run one at a time): anything it read again would be in `seen` before the marker.
    const marker = await append('marker');
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect(seen.map((x) => x.seq)).toEqual([before.seq, after.seq, marker.seq]);
    expect(await a!.actions.latestSeq()).toBe(marker.seq);
    expect(warnings.filter((w) => /never handed out/.test(w))).toHaveLength(1);
    unsubscribe();
  });

  it('a malformed row (timestamp infinity) is skipped once with a warning; the actions after it arrive', async () => {
    const [a] = stores;
    const seen: string[] = [];
    a!.actions.subscribe(await a!.actions.latestSeq(), (action) => seen.push(action.reason));
    const skipped = warnings.length;
    await sql.query(`INSERT INTO wca_authority_actions (action, authority_id, reason, requested_by, origin, at) VALUES ('taint', 'x', 'malformed', 'x', 'forger', 'infinity')`);
    await append('next');
    await expect.poll(() => seen, { timeout: 10_000 }).toEqual(['next']);
    await sql.query(`NOTIFY wca_authority_actions, 'again'`);
    // As above: once the marker appended after that notification arrives, the read it started has run.
    await append('marker');
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(['next', 'marker']);
    expect(warnings.slice(skipped).filter((w) => /malformed row skipped/.test(w))).toHaveLength(1);
  });

  it('a thousand forged replica rows with ids that sort first do not hide a real replica', async () => {
    await sql.query(
      `INSERT INTO wca_replicas SELECT 'aaa-' || lpad(i::text, 4, '0'), '{}'::jsonb, now() - interval '1 minute', now() + interval '1 day' FROM generate_series(1, 1000) i`,
    );
    await stores[1]!.replicas.heartbeat('replica-b', { subscribers: 1 }, 60_000);
    const live = await stores[0]!.replicas.live();
    expect(live).toHaveLength(1000);
    expect(live.map((r) => r.replicaId)).toContain('replica-b');
  });

  it('an insert holding a lower seq open until after a concurrent append commits: both are delivered, in seq order (issue #13 finding 1)', async () => {
    const [a] = stores;
    const seen: AuthorityAction[] = [];
    const unsubscribe = a!.actions.subscribe(await a!.actions.latestSeq(), (action) => seen.push(action));
    const slow = new pg.Client(server.config(database));
    await slow.connect();
    try {
      await slow.query('BEGIN');
      const held = await slow.query<{ seq: string }>(
        `INSERT INTO wca_authority_actions (action, authority_id, reason, requested_by, origin) VALUES ('taint', 'x', 'held', 'x', 'replica-slow') RETURNING seq::text`,
      );
      const appended = append('concurrent');
      // Without the append lock the concurrent append commits now and the subscriber's cursor passes the held seq (wait
      // for that delivery); with it, the append's backend waits on the lock until the COMMIT, as pg_stat_activity shows.
      const appendWaitsOnLock = async () =>
        (await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO wca_authority_actions%'`,
        )).rows[0]!.n > 0;
      await expect.poll(async () => seen.length === 1 || (await appendWaitsOnLock()), { timeout: 10_000, interval: 20 }).toBe(true);
      await slow.query('COMMIT');
      const later = await appended;
      await expect.poll(() => seen.map((x) => x.reason), { timeout: 10_000 }).toEqual(['held', 'concurrent']);
      expect(seen.map((x) => x.seq)).toEqual([held.rows[0]!.seq, later.seq]);
    } finally {
      await slow.end();
      unsubscribe();
    }
  });

  it('a row planted at the next seq neither blocks the next append nor keeps its seq (issue #13 finding 2)', async () => {
    const next = async () => (await sql.query<{ next: string }>('SELECT (last_value + 1)::text AS next FROM wca_authority_actions_seq_seq')).rows[0]!.next;
    const planted = await next();
    const row = await sql.query<{ seq: string }>(
      `INSERT INTO wca_authority_actions (seq, action, authority_id, reason, requested_by, origin) VALUES ($1 + 1, 'taint', 'x', 'planted', 'x', 'forger') RETURNING seq::text`,
      [planted],
    );
    expect(row.rows[0]!.seq).toBe(planted);
    expect(BigInt((await append('after the plant')).seq)).toBeGreaterThan(BigInt(planted));
    // With the trigger switched off (an owner can), a planted row holds the primary key: the append retries past it.
    const held = await next();
    await bypassingTriggers(`INSERT INTO wca_authority_actions (seq, action, authority_id, reason, requested_by, origin) VALUES (${held}, 'taint', 'x', 'held', 'x', 'forger')`);
    expect(BigInt((await append('past the held row')).seq)).toBe(BigInt(held) + 1n);
  });

  it('forged replica rows seen in the future, with ids outside the grammar or an oversized status are ignored, before the limit (issue #13 findings 4, 5, 8)', async () => {
    await sql.query(`DELETE FROM wca_replicas`);
    await sql.query(
      `INSERT INTO wca_replicas SELECT 'future-' || i, '{}'::jsonb, now() + interval '1 day', now() + interval '2 days' FROM generate_series(1, 1001) i`,
    );
    await sql.query(`INSERT INTO wca_replicas VALUES (E'bidi\\u202e-x', '{}', now(), now() + interval '1 day'), ('-dash', '{}', now(), now() + interval '1 day')`);
    await sql.query(`INSERT INTO wca_replicas VALUES ('huge', jsonb_build_object('pad', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 10000) i)), now(), now() + interval '1 day')`);
    await stores[1]!.replicas.heartbeat('replica-b', { subscribers: 1 }, 60_000);
    expect((await stores[0]!.replicas.live()).map((r) => r.replicaId)).toEqual(['replica-b']);
  });
});

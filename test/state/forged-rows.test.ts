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

  const settle = () => new Promise((r) => setTimeout(r, 500));
  const append = (reason: string) => stores[1]!.actions.append({ action: 'taint', authorityId: 'x', reason, by: 'ops', origin: 'replica-b' });

  it('a row above the sequence (seq 2^53+1) is never applied, however many notifications follow, and later real actions still arrive once each', async () => {
    const [a] = stores;
    const seen: AuthorityAction[] = [];
    const unsubscribe = a!.actions.subscribe(await a!.actions.latestSeq(), (action) => seen.push(action));
    const before = await append('before');
    await expect.poll(() => seen.map((x) => x.reason), { timeout: 10_000 }).toEqual(['before']);

    await sql.query(`INSERT INTO wca_authority_actions (seq, action, authority_id, reason, requested_by, origin) VALUES (9007199254740993, 'emergency-rotate', '', 'forged', 'x', 'forger')`);
    for (let i = 0; i < 3; i++) {
      await sql.query(`NOTIFY wca_authority_actions, 'garbage-${i}'`);
      await settle();
    }
    const after = await append('after');
    await expect.poll(() => seen.map((x) => x.reason), { timeout: 10_000 }).toEqual(['before', 'after']);
    await sql.query(`NOTIFY wca_authority_actions, 'again'`);
    await settle();
    expect(seen.map((x) => x.seq)).toEqual([before.seq, after.seq]);
    expect(await a!.actions.latestSeq()).toBe(after.seq);
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
    await settle();
    expect(seen).toEqual(['next']);
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
});

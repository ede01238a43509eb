/**
 * What only the postgres store does: migrations under concurrent starts, refusing
 * a newer schema, and availability — a stopped database, a restarted one, and a
 * server that accepts connections but never answers (a fake: a real PostgreSQL
 * cannot be made to hang on cue).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { systemClock } from '../../src/clock.js';
import { isWcaError } from '../../src/errors.js';
import { createPostgresStore } from '../../src/state/postgres/store.js';
import { migrate, readMigrations } from '../../src/state/postgres/migrate.js';
import type { AuthorityAction, StateStore } from '../../src/state/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { hasTools } from '../helpers/tools.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { postgresConfig } from './postgres-config.js';

const deps = { clock: systemClock, logger: silentLogger(), env: {} };
const hash = () => Math.random().toString(16).slice(2).padEnd(64, '0');

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('postgres state store', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startTestPostgres();
  }, 30_000);
  afterAll(async () => server?.close());

  async function query<R extends pg.QueryResultRow>(database: string, sql: string): Promise<R[]> {
    const client = new pg.Client(server.config(database));
    await client.connect();
    try {
      return (await client.query<R>(sql)).rows;
    } finally {
      await client.end();
    }
  }

  // The first three cases run side by side, each on a database of its own; the later ones stop the server, one at a time.
  it.concurrent('migrates once when several replicas start on an empty database at the same moment', async ({ expect }) => {
    const database = await server.createDatabase();
    const config = postgresConfig(server.config(database));
    const stores = await Promise.all(Array.from({ length: 4 }, () => createPostgresStore(config, deps)));
    try {
      expect(stores.map((s) => s.health())).toEqual(stores.map(() => ({ up: true })));
      const applied = await query<{ version: number; name: string }>(database, 'SELECT version, name FROM wca_schema_migrations ORDER BY version');
      expect(applied).toEqual(readMigrations().map((m) => ({ version: m.version, name: m.name })));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it.concurrent('migrates a database at version 1 with actions in it to 2: its rows read as fleet-wide, new rows carry a target', async ({ expect }) => {
    const database = await server.createDatabase();
    const client = new pg.Client(server.config(database));
    await client.connect();
    try {
      expect(await migrate(client, readMigrations().slice(0, 1))).toBe(1);
      await client.query("INSERT INTO wca_authority_actions (action, authority_id, reason, requested_by, origin) VALUES ('taint', 'ab12', 'before 2', 'ops', 'replica-a')");
    } finally {
      await client.end();
    }
    const store = await createPostgresStore(postgresConfig(server.config(database)), deps);
    try {
      expect((await query<{ version: number }>(database, 'SELECT max(version) AS version FROM wca_schema_migrations'))[0]!.version).toBe(readMigrations().length);
      const targeted = await store.actions.append({ action: 'emergency-rotate', authorityId: '', reason: 'after 2', by: 'ops', origin: 'replica-a', target: 'replica-b' });
      const [old, now] = await store.actions.since('0');
      expect(old).toMatchObject({ action: 'taint', authorityId: 'ab12', reason: 'before 2', origin: 'replica-a' });
      expect(old).not.toHaveProperty('target');
      expect(now).toEqual(targeted);
      expect(now!.target).toBe('replica-b');
    } finally {
      await store.close();
    }
  });

  it.concurrent('refuses to start on a schema newer than it knows (a newer replica migrated), naming both versions', async ({ expect }) => {
    const database = await server.createDatabase();
    const config = postgresConfig(server.config(database));
    await (await createPostgresStore(config, deps)).close();
    await query(database, "INSERT INTO wca_schema_migrations (version, name) VALUES (999, 'from_the_future')");
    const err = await createPostgresStore(config, deps).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_STATE_STORE_SCHEMA')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ version: 999, known: readMigrations().length });
  });

  it('while the database is down: refuses at once with ERR_STATE_STORE_UNAVAILABLE; once it is back: reconnects and catches up on actions', async () => {
    const database = await server.createDatabase();
    const config = postgresConfig(server.config(database), { statementTimeout: '1s' });
    const health: boolean[] = [];
    const a = await createPostgresStore(config, { ...deps, onHealth: (h) => health.push(h.up) });
    let b: StateStore | undefined;
    try {
      const t = { hash: hash(), id: 'tok-1', spiffeId: 'spiffe://cluster.local/vm/a', dnsNames: [], expiresAtMs: Date.now() + 600_000 };
      await a.joinTokens.put(t, 100);
      const seen: AuthorityAction[] = [];
      a.actions.subscribe('0', (action) => seen.push(action));

      await server.stop();
      // The first call after the outage finds the dead connection; every later one is refused without waiting.
      const first = await a.joinTokens.consume(t.hash, 'node', 0).catch((e: unknown) => e);
      expect(isWcaError(first, 'ERR_STATE_STORE_UNAVAILABLE')).toBe(true);
      expect(a.health().up).toBe(false);
      const started = Date.now();
      const second = await a.joinTokens.consume(t.hash, 'node', 0).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(200);
      expect(isWcaError(second, 'ERR_STATE_STORE_UNAVAILABLE')).toBe(true);
      expect((second as { details: { reason: string } }).details.reason).toBe('down');

      await server.start();
      await expect.poll(() => a.health().up, { timeout: 20_000, interval: 100 }).toBe(true);
      expect(health.at(-1)).toBe(true);
      expect((await a.joinTokens.consume(t.hash, 'node', 0)).outcome).toBe('granted');
      // An action appended by another replica after the restart reaches the subscriber of the first.
      b = await createPostgresStore(config, deps);
      const appended = await b.actions.append({ action: 'taint', authorityId: 'x', reason: 'after restart', by: 'ops', origin: 'replica-a' });
      await expect.poll(() => seen.map((s) => s.seq), { timeout: 20_000 }).toEqual([appended.seq]);
    } finally {
      await b?.close();
      await a.close();
    }
  }, 40_000);

  it('a consume blocked inside the database (a row lock held elsewhere) ends within statementTimeout with UNAVAILABLE', async () => {
    const database = await server.createDatabase();
    const store = await createPostgresStore(postgresConfig(server.config(database), { statementTimeout: '500ms' }), deps);
    const holder = new pg.Client(server.config(database));
    await holder.connect();
    try {
      const t = { hash: hash(), id: 'tok-2', spiffeId: 'spiffe://cluster.local/vm/b', dnsNames: [], expiresAtMs: Date.now() + 600_000 };
      await store.joinTokens.put(t, 100);
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM wca_join_tokens WHERE hash = $1 FOR UPDATE', [t.hash]);
      const started = Date.now();
      const err = await store.joinTokens.consume(t.hash, 'node', 0).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(isWcaError(err, 'ERR_STATE_STORE_UNAVAILABLE')).toBe(true);
      expect((err as { details: { reason: string } }).details.reason).toBe('timeout');
      await holder.query('ROLLBACK');
      await expect.poll(() => store.health().up, { timeout: 20_000, interval: 100 }).toBe(true);
      expect((await store.joinTokens.consume(t.hash, 'node', 0)).outcome).toBe('granted');
    } finally {
      await holder.end();
      await store.close();
    }
  }, 30_000);

  it('starts degraded when the database is unreachable, and comes up when it appears', async () => {
    const database = await server.createDatabase();
    const config = postgresConfig(server.config(database), { statementTimeout: '1s' });
    await server.stop();
    let store: StateStore | undefined;
    try {
      store = await createPostgresStore(config, deps);
      expect(store.health()).toMatchObject({ up: false, problem: expect.stringMatching(/^connect: /) });
      expect(isWcaError(await store.joinTokens.outstanding().catch((e: unknown) => e), 'ERR_STATE_STORE_UNAVAILABLE')).toBe(true);
    } finally {
      await server.start();
    }
    await expect.poll(() => store!.health().up, { timeout: 20_000, interval: 100 }).toBe(true);
    expect(await store.joinTokens.outstanding()).toBe(0);
    await store.close();
  }, 40_000);
});

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('postgres state store against a server that never answers (fake: a TCP listener that accepts and stays silent)', () => {
  let silent: net.Server;
  let port: number;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => silent.close(r));
  });

  it('starts within the timeout, degraded, and no call waits longer than statementTimeout', async () => {
    const config = postgresConfig({ host: '127.0.0.1', port, database: 'wca', user: 'wca' }, { statementTimeout: '500ms' });
    const started = Date.now();
    const store = await createPostgresStore(config, deps);
    try {
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(store.health().up).toBe(false);
      const t0 = Date.now();
      const err = await store.joinTokens.consume(hash(), 'node', 0).catch((e: unknown) => e);
      expect(isWcaError(err, 'ERR_STATE_STORE_UNAVAILABLE')).toBe(true);
      expect(Date.now() - t0).toBeLessThan(500);
    } finally {
      await store.close();
    }
  });
});

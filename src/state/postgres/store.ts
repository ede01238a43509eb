import type pg from 'pg';
import { z } from 'zod';
import { backoffMs } from '../../backoff.js';
import type { Clock } from '../../clock.js';
import { WcaError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { Logger } from '../../telemetry/logger.js';
import type { PostgresConfig } from '../config.js';
import {
  authorityActionKinds,
  type AuthorityAction,
  type AuthorityActionLog,
  type AuthorityActionRequest,
  type ConsumeResult,
  type JoinTokenRecords,
  type ReplicaMembership,
  type ReplicaRecord,
  type StateStore,
  type StateStoreDeps,
} from '../types.js';
import { replicaIdPattern, replicaIdSchema } from '../replica-id.js';
import { connectionSettings, loadPg, type PgModule } from './client.js';
import { Db } from './db.js';
import { migrate } from './migrate.js';

const ms = (value: number) => value / 1000;

class PgJoinTokens implements JoinTokenRecords {
  constructor(private readonly db: Db) {}

  async put(token: { hash: string; id: string; spiffeId: string; dnsNames: readonly string[]; expiresAtMs: number }, max: number): Promise<boolean> {
    await this.db.query('prune join tokens', 'DELETE FROM wca_join_tokens WHERE coalesce(spent_until, expires_at) < now()');
    const rows = await this.db.query(
      'put join token',
      `INSERT INTO wca_join_tokens (hash, id, spiffe_id, dns_names, expires_at)
       SELECT $1, $2, $3, $4, to_timestamp($5) WHERE (SELECT count(*) FROM wca_join_tokens) < $6
       RETURNING id`,
      [token.hash, token.id, token.spiffeId, [...token.dnsNames], ms(token.expiresAtMs), max],
    );
    return rows.length === 1;
  }

  async consume(hash: string, claimant: string, reuseWindowMs: number): Promise<ConsumeResult> {
    // The spend: one statement, so of any number of concurrent presentations on any replica one row update wins.
    const spent = await this.db.query<{ id: string; spiffe_id: string; dns_names: string[] }>(
      'consume join token',
      `UPDATE wca_join_tokens SET spent_by = $2, spent_until = now() + make_interval(secs => $3)
       WHERE hash = $1 AND spent_by IS NULL AND expires_at > now()
       RETURNING id, spiffe_id, dns_names`,
      [hash, claimant, ms(reuseWindowMs)],
    );
    if (spent[0]) return { outcome: 'granted', grant: grantOf(spent[0]) };
    const [row] = await this.db.query<{ id: string; spiffe_id: string; dns_names: string[]; spent_by: string | null; reusable: boolean; expires_ms: number }>(
      'read join token',
      `SELECT id, spiffe_id, dns_names, spent_by, (spent_until > now()) AS reusable, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
       FROM wca_join_tokens WHERE hash = $1`,
      [hash],
    );
    if (row === undefined) return { outcome: 'unknown' };
    if (row.spent_by === null) return { outcome: 'expired', id: row.id, expiresAtMs: row.expires_ms };
    return row.spent_by === claimant && row.reusable ? { outcome: 'granted', grant: grantOf(row) } : { outcome: 'used', id: row.id };
  }

  async outstanding(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(
      'count join tokens',
      'SELECT count(*)::int AS n FROM wca_join_tokens WHERE spent_by IS NULL AND expires_at > now()',
    );
    return row?.n ?? 0;
  }
}

const isUniqueViolation = (err: unknown) => (err as { cause?: { code?: unknown } } | undefined)?.cause?.code === '23505';

const grantOf = (row: { id: string; spiffe_id: string; dns_names: string[] }) => ({ id: row.id, spiffeId: row.spiffe_id, dnsNames: row.dns_names });

/** A row is untrusted input (anyone with write access to the table wrote it): read as this, or skipped. */
const actionRow = z.object({
  // node-postgres returns a bigint as its decimal text: kept as text, never rounded through a JS number.
  seq: z.string().regex(/^\d{1,19}$/),
  action: z.enum(authorityActionKinds),
  authority_id: z.string(),
  reason: z.string(),
  requested_by: z.string(),
  origin: replicaIdSchema,
  // NULL: every replica (and every row from before migration 002).
  target: replicaIdSchema.nullable(),
  at_ms: z.number().finite(),
});
type ActionRow = z.infer<typeof actionRow>;

const ACTION_COLUMNS = 'seq, action, authority_id, reason, requested_by, origin, target, (extract(epoch FROM at) * 1000)::float8 AS at_ms';
/**
 * The last seq the table's own sequence handed out. A row above it was inserted with
 * an explicit seq, not appended: read, it would move cursors past every real action to come.
 */
const HANDED_OUT = '(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM wca_authority_actions_seq_seq)';

const actionOf = (r: ActionRow): AuthorityAction =>
  Object.freeze({
    seq: r.seq,
    action: r.action,
    authorityId: r.authority_id,
    reason: r.reason,
    by: r.requested_by,
    origin: r.origin,
    ...(r.target === null ? {} : { target: r.target }),
    atMs: r.at_ms,
  });

interface Subscriber {
  cursor: string;
  listener: (action: AuthorityAction) => void;
}

/**
 * The actions log. Delivery is a catch-up read from each subscriber's cursor, run
 * on every notification and after every (re)connection of the LISTEN connection,
 * so an action appended while this replica was cut off is applied when it is back.
 */
class PgActionLog implements AuthorityActionLog {
  private readonly subscribers = new Set<Subscriber>();
  private listenClient: pg.Client | undefined;
  private cancelReconnect: (() => void) | undefined;
  private attempt = 0;
  private closed = false;
  /** Catch-up reads run one at a time, so an action is delivered once and in order. */
  private catchingUp: Promise<void> = Promise.resolve();
  /** How many rows above the sequence were last reported (one warning each time that changes, not one per read). */
  private reportedForged = 0;

  constructor(
    private readonly db: Db,
    private readonly pg: PgModule,
    private readonly settings: pg.ClientConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async append(request: AuthorityActionRequest): Promise<AuthorityAction> {
    try {
      return await this.insert(request);
    } catch (err) {
      // A row planted at the next seq before migration 003 (or with its trigger bypassed) holds the primary
      // key: that seq is spent now, the next one is free.
      if (!isUniqueViolation(err)) throw err;
      this.logger.warn({}, 'authority actions: a row at the next seq (inserted by hand) was in the way; appended after it');
      return this.insert(request);
    }
  }

  /** Migration 003's trigger takes the seq under a lock held to commit: appends commit in seq order. */
  private async insert(request: AuthorityActionRequest): Promise<AuthorityAction> {
    const [row] = await this.db.query<ActionRow>(
      'append authority action',
      `INSERT INTO wca_authority_actions (action, authority_id, reason, requested_by, origin, target) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${ACTION_COLUMNS}`,
      [request.action, request.authorityId, request.reason, request.by, request.origin, request.target ?? null],
    );
    return actionOf(actionRow.parse(row));
  }

  async latestSeq(): Promise<string> {
    const [row] = await this.db.query<{ seq: string }>(
      'latest authority action',
      `SELECT coalesce(max(seq), 0)::text AS seq FROM wca_authority_actions WHERE seq <= ${HANDED_OUT}`,
    );
    return row?.seq ?? '0';
  }

  async since(afterSeq: string, limit: number = limits.stateActionsBatchMax): Promise<AuthorityAction[]> {
    return (await this.batch(afterSeq, limit)).actions;
  }

  /**
   * Rows after `afterSeq` up to what the sequence handed out; `last` is the seq of the
   * last row read, valid or not, so a malformed row is passed over once, with a warning.
   */
  private async batch(afterSeq: string, limit: number): Promise<{ actions: AuthorityAction[]; rows: number; last: string | undefined }> {
    const rows = await this.db.query<Record<string, unknown>>(
      'read authority actions',
      `SELECT ${ACTION_COLUMNS} FROM wca_authority_actions WHERE seq > $1::bigint AND seq <= ${HANDED_OUT} ORDER BY seq LIMIT $2`,
      [afterSeq, Math.min(limit, limits.stateActionsBatchMax)],
    );
    const actions: AuthorityAction[] = [];
    for (const row of rows) {
      const parsed = actionRow.safeParse(row);
      if (parsed.success) actions.push(actionOf(parsed.data));
      else this.logger.warn({ seq: String(row.seq), problems: parsed.error.issues.map((i) => i.path.join('.')) }, 'authority actions: malformed row skipped');
    }
    return { actions, rows: rows.length, last: rows.length > 0 ? String(rows.at(-1)!.seq) : undefined };
  }

  subscribe(afterSeq: string, listener: (action: AuthorityAction) => void): () => void {
    const subscriber = { cursor: afterSeq, listener };
    this.subscribers.add(subscriber);
    if (this.listenClient === undefined && this.cancelReconnect === undefined) void this.listen();
    this.catchUp();
    return () => this.subscribers.delete(subscriber);
  }

  /** Called when the store comes back: whatever was appended meanwhile is read now. */
  catchUp(): void {
    this.catchingUp = this.catchingUp.then(() => this.readNew()).catch((err: unknown) => {
      this.logger.debug({ err: (err as Error).message }, 'authority actions catch-up failed; retried on reconnect');
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
    this.cancelReconnect?.();
    await this.listenClient?.end().catch(() => undefined);
  }

  private async readNew(): Promise<void> {
    await this.reportForged();
    for (const subscriber of this.subscribers) {
      for (;;) {
        const batch = await this.batch(subscriber.cursor, limits.stateActionsBatchMax);
        for (const action of batch.actions) {
          if (!this.subscribers.has(subscriber)) return;
          subscriber.cursor = action.seq;
          subscriber.listener(action);
        }
        if (batch.last !== undefined) subscriber.cursor = batch.last;
        if (batch.rows < limits.stateActionsBatchMax) break;
      }
    }
  }

  private async reportForged(): Promise<void> {
    const [row] = await this.db.query<{ n: number }>(
      'count forged authority actions',
      `SELECT count(*)::int AS n FROM wca_authority_actions WHERE seq > ${HANDED_OUT}`,
    );
    const n = row?.n ?? 0;
    if (n > 0 && n !== this.reportedForged) {
      this.logger.warn({ rows: n }, 'authority actions: rows with a seq the sequence never handed out (inserted by hand) are ignored');
    }
    this.reportedForged = n;
  }

  private async listen(): Promise<void> {
    this.cancelReconnect = undefined;
    if (this.closed || this.subscribers.size === 0) return;
    const client = new this.pg.Client(this.settings);
    let retried = false;
    // 'error', 'end' and a failed connect may all report one loss: one reconnect per connection.
    const retry = () => {
      if (retried) return;
      retried = true;
      if (this.listenClient === client) this.listenClient = undefined;
      client.removeAllListeners();
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.attempt++;
      this.cancelReconnect = this.clock.schedule(() => void this.listen(), backoffMs(this.attempt, 250, 10_000));
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', () => this.catchUp());
    try {
      await client.connect();
      await client.query('LISTEN wca_authority_actions');
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'authority actions: LISTEN failed, retrying');
      return retry();
    }
    if (this.closed) return void client.end().catch(() => undefined);
    this.listenClient = client;
    this.attempt = 0;
    this.catchUp();
  }
}

class PgMembership implements ReplicaMembership {
  constructor(private readonly db: Db) {}

  async heartbeat(replicaId: string, status: Readonly<Record<string, unknown>>, ttlMs: number): Promise<void> {
    const json = JSON.stringify(status);
    if (Buffer.byteLength(json) > limits.replicaStatusMaxBytes) {
      throw new WcaError('ERR_INTERNAL', `replica status is ${Buffer.byteLength(json)} bytes, above ${limits.replicaStatusMaxBytes}`);
    }
    await this.db.query(
      'replica heartbeat',
      `INSERT INTO wca_replicas (replica_id, status, last_seen, expires_at) VALUES ($1, $2, now(), now() + make_interval(secs => $3))
       ON CONFLICT (replica_id) DO UPDATE SET status = EXCLUDED.status, last_seen = EXCLUDED.last_seen, expires_at = EXCLUDED.expires_at`,
      [replicaId, json, ms(ttlMs)],
    );
    // Rows of replicas gone for a day say nothing any more.
    await this.db.query('prune replicas', `DELETE FROM wca_replicas WHERE expires_at < now() - interval '1 day'`);
  }

  async live(): Promise<ReplicaRecord[]> {
    const rows = await this.db.query<{ replica_id: string; status: Record<string, unknown>; seen_ms: number }>(
      'list replicas',
      // Forged rows are filtered before the limit, so they cannot crowd real replicas out of it: a last_seen
      // in the future (heartbeats write the server's now()), an id outside the grammar, a status above the
      // size a replica may write (its compressed size first, so a huge row is never decompressed). The writer
      // bounds compact JSON; jsonb's binary form (a 4-byte entry per element) and text (", " and ": ") are
      // larger, by less than 8x and 2x: the factors keep every status a replica can write. Then the
      // most recently seen first, and by id for a stable listing.
      `SELECT * FROM (
         SELECT replica_id, status, (extract(epoch FROM last_seen) * 1000)::float8 AS seen_ms FROM wca_replicas
         WHERE expires_at > now() AND last_seen <= now() + make_interval(secs => $2)
           AND length(replica_id) <= $3 AND replica_id ~ $5
           AND CASE WHEN pg_column_size(status) > 8 * $4 THEN false ELSE octet_length(status::text) <= 2 * $4 END
         ORDER BY last_seen DESC LIMIT $1
       ) newest ORDER BY replica_id`,
      [limits.replicasMax, ms(limits.replicaLastSeenSkewMs), limits.replicaIdMaxLength, limits.replicaStatusMaxBytes, replicaIdPattern.source],
    );
    return rows
      .filter((r) => replicaIdSchema.safeParse(r.replica_id).success)
      .map((r) => ({ replicaId: r.replica_id, status: r.status, lastSeenMs: r.seen_ms }));
  }
}

/**
 * The shared store. Starts even when the database is unreachable (the replica
 * serves everyone who needs no shared state, and reconnects in the background);
 * refuses to start on a schema newer than it knows.
 */
export async function createPostgresStore(config: PostgresConfig, deps: StateStoreDeps): Promise<StateStore> {
  const pg = await loadPg();
  const settings = connectionSettings(config, deps.env);
  const pool = new pg.Pool({ ...settings, max: config.poolMax, idleTimeoutMillis: 30_000 });
  // An idle connection that dies (server restart) is reported here; the next query notices too.
  pool.on('error', (err) => deps.logger.debug({ err: err.message }, 'state store: idle connection closed'));
  let actions: PgActionLog | undefined;
  const db = new Db({
    pool,
    clock: deps.clock,
    logger: deps.logger,
    timeoutMs: Math.round(config.statementTimeout * 1000),
    prepare: (client) => migrate(client),
    onHealth: (health) => {
      if (health.up) actions?.catchUp();
      deps.onHealth?.(health);
    },
  });
  try {
    await db.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  actions = new PgActionLog(db, pg, settings, deps.clock, deps.logger);
  const store = actions;
  return {
    kind: 'postgres',
    joinTokens: new PgJoinTokens(db),
    actions: store,
    replicas: new PgMembership(db),
    health: () => db.health(),
    close: async () => {
      await store.close();
      await db.close();
    },
  };
}

import type pg from 'pg';
import { backoffMs } from '../../backoff.js';
import type { Clock } from '../../clock.js';
import { WcaError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import type { StoreHealth } from '../types.js';

/** How much later than the server's statement_timeout the client gives up. */
export const CLIENT_GRACE_MS = 250;

export type UnavailableReason = 'down' | 'timeout' | 'connection' | 'query';

/** SQLSTATE classes that mean the server or the connection, not the statement, failed. */
const connectionClasses = ['08', '53', '57P'];

function reasonOf(err: unknown): UnavailableReason {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : '';
  if (code === '57014' || /timeout/i.test(message)) return 'timeout';
  // No SQLSTATE (ECONNREFUSED, ENOENT, "Connection terminated"): the connection failed.
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || connectionClasses.some((c) => code.startsWith(c))) return 'connection';
  return 'query';
}

export interface DbOptions {
  pool: pg.Pool;
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
  /** Run on every (re)connection before the store counts as up: the schema migration. */
  prepare: (client: pg.PoolClient) => Promise<unknown>;
  onHealth?: (health: StoreHealth) => void;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

/**
 * The pool with the store's availability around it. Every query settles within
 * the timeout whatever the server does; a connection failure marks the store
 * down, and while it is down calls fail at once (nobody waits on a dead database)
 * and a probe reconnects with jittered backoff.
 */
export class Db {
  private state: StoreHealth = { up: false, problem: 'not connected yet' };
  private attempt = 0;
  private cancelProbe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: DbOptions) {}

  health(): StoreHealth {
    return this.state;
  }

  /** First connection: resolves when up, or when known down (the probe keeps trying); rethrows a schema error. */
  async start(): Promise<void> {
    await this.probe();
  }

  async query<R extends pg.QueryResultRow>(operation: string, sql: string, params: unknown[] = []): Promise<R[]> {
    if (!this.state.up) throw this.unavailable(operation, 'down');
    try {
      const result = await this.bounded(operation, this.options.pool.query<R>(sql, params));
      return result.rows;
    } catch (err) {
      if (err instanceof WcaError) throw err;
      const reason = reasonOf(err);
      if (reason !== 'query') this.markDown(`${operation}: ${describe(err)}`);
      throw this.unavailable(operation, reason, err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelProbe?.();
    await this.options.pool.end().catch(() => undefined);
  }

  /**
   * A late answer is dropped. The server cancels the statement itself at
   * statement_timeout, a little before this fires, so a spend the caller was told
   * failed has normally been rolled back too.
   */
  private bounded<T>(operation: string, work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.options.clock.schedule(() => {
        const message = `no answer within ${this.options.timeoutMs} ms (state.postgres.statementTimeout)`;
        this.markDown(`${operation}: ${message}`);
        reject(this.unavailable(operation, 'timeout'));
      }, this.options.timeoutMs + CLIENT_GRACE_MS);
      work.then(
        (value) => (cancel(), resolve(value)),
        (err: unknown) => (cancel(), reject(err)),
      );
    });
  }

  private markDown(problem: string): void {
    if (this.closed || !this.state.up) return;
    this.state = { up: false, problem };
    this.options.logger.warn({ problem }, 'state store unreachable: join tokens refused until it is back; other callers are served');
    this.options.onHealth?.(this.state);
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.attempt++;
    // At most ~2 s between attempts: a replica leaves degraded mode within about that of the
    // database coming back (one connection attempt per replica every 1-2 s costs it nothing).
    this.cancelProbe = this.options.clock.schedule(
      () => void this.probe(),
      backoffMs(this.attempt, this.options.reconnectBaseMs ?? 250, this.options.reconnectMaxMs ?? 2_000),
    );
  }

  private async probe(): Promise<void> {
    if (this.closed) return;
    try {
      await this.bounded('connect', this.connectAndPrepare());
    } catch (err) {
      if (err instanceof WcaError && err.code === 'ERR_STATE_STORE_SCHEMA') throw err;
      const problem = `connect: ${describe(err)}`;
      if (this.state.up || this.state.problem !== problem) this.options.logger.warn({ problem, attempt: this.attempt }, 'state store unreachable');
      this.state = { up: false, problem };
      this.options.onHealth?.(this.state);
      this.scheduleProbe();
      return;
    }
    if (this.closed) return;
    if (this.attempt > 0) this.options.logger.info({ attempts: this.attempt }, 'state store reachable again');
    this.attempt = 0;
    this.state = { up: true };
    this.options.onHealth?.(this.state);
  }

  private async connectAndPrepare(): Promise<void> {
    const client = await this.options.pool.connect();
    let failed = false;
    try {
      await this.options.prepare(client);
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // A client that failed mid-transaction is discarded, not reused.
      client.release(failed);
    }
  }

  /**
   * The message reaches SDS peers: it names the operation and the kind of failure,
   * never the database's address or its error text (those go to the log and /readyz).
   */
  private unavailable(operation: string, reason: UnavailableReason, cause?: unknown): WcaError {
    return new WcaError('ERR_STATE_STORE_UNAVAILABLE', `shared state store unavailable (${operation}: ${reason}); retry later`, {
      ...(cause === undefined ? {} : { cause }),
      details: { reason, operation },
    });
  }
}

/** An error's own words without its connection string: pg never puts the password in them, and we add nothing. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code} ${err.message}` : err.message;
}

/**
 * The only file that touches the `pg` package: loads it (an optional dependency)
 * and turns the `state.postgres` config into pool and listener settings.
 */
import fs from 'node:fs';
import type pg from 'pg';
import { WcaError } from '../../errors.js';
import { importOptional } from '../../optional-import.js';
import { CLIENT_GRACE_MS } from './db.js';
import type { PostgresConfig } from '../config.js';

export type PgModule = typeof pg;

export function loadPg(): Promise<PgModule> {
  return importOptional(
    async () => (await import('pg')).default,
    (cause) =>
      new WcaError(
        'ERR_STATE_STORE_DEPENDENCY_MISSING',
        'state.store "postgres" needs the npm package pg, which is not installed ' +
          '(it is an optional dependency of workload-ca: install it with "npm install pg" where workload-ca is installed)',
        { cause, details: { package: 'pg' } },
      ),
  );
}

function readConfigFile(file: string, field: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new WcaError('ERR_CONFIG_FILE', `state.postgres.${field}: cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause,
      details: { field: `state.postgres.${field}`, file },
    });
  }
}

/**
 * Connection settings shared by the pool and the LISTEN connection. Every wait is
 * bounded by `timeoutMs`: connecting, queueing for a pooled connection, the
 * statement on the server and the answer on the client.
 */
export function connectionSettings(config: PostgresConfig, env: Readonly<Record<string, string | undefined>>): pg.ClientConfig {
  const timeoutMs = Math.round(config.statementTimeout * 1000);
  const password = config.passwordFile !== undefined ? readConfigFile(config.passwordFile, 'passwordFile').replace(/\r?\n$/, '') : env.PGPASSWORD;
  const tls = config.tls;
  return {
    ...(config.url !== undefined
      ? { connectionString: config.url }
      : { host: config.host, port: config.port, database: config.database, user: config.user }),
    ...(password !== undefined ? { password } : {}),
    ...(tls
      ? {
          ssl: {
            rejectUnauthorized: true,
            ca: readConfigFile(tls.ca, 'tls.ca'),
            ...(tls.cert !== undefined ? { cert: readConfigFile(tls.cert, 'tls.cert'), key: readConfigFile(tls.key!, 'tls.key') } : {}),
          },
        }
      : {}),
    application_name: 'workload-ca',
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + CLIENT_GRACE_MS,
    lock_timeout: timeoutMs,
    keepAlive: true,
  };
}

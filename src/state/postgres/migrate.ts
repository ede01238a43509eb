import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { WcaError } from '../../errors.js';
import { packageRoot } from '../../package-root.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Shipped with the package (package.json "files"), read from the source tree in both layouts. */
export const migrationsDir = path.join(packageRoot, 'src/state/postgres/migrations');

const FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** The versioned SQL files, in order; a gap or a duplicate version is a packaging bug. */
export function readMigrations(dir = migrationsDir): Migration[] {
  const migrations = fs
    .readdirSync(dir)
    .map((file) => ({ file, m: FILE.exec(file) }))
    .filter((f): f is { file: string; m: RegExpExecArray } => f.m !== null)
    .map(({ file, m }) => ({ version: Number(m[1]), name: m[2]!, sql: fs.readFileSync(path.join(dir, file), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`state migrations: expected version ${i + 1}, found ${m.version}_${m.name}`);
  });
  return migrations;
}

/** Any constant: replicas of any version serialise their migrations on it. */
const MIGRATION_LOCK = 0x77636121;

/**
 * Brings the schema to the newest known version in one transaction under an
 * advisory lock: replicas starting together take turns, the second finds the
 * work done. A schema newer than we know is refused (a newer replica migrated).
 * Returns the version now in place.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = readMigrations()): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS wca_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM wca_schema_migrations');
    const current = rows[0]?.version ?? 0;
    const known = migrations.at(-1)?.version ?? 0;
    if (current > known) {
      throw new WcaError('ERR_STATE_STORE_SCHEMA', `the state database has schema version ${current}; this workload-ca knows up to ${known}: upgrade it`, {
        details: { version: current, known },
      });
    }
    for (const m of migrations.filter((m) => m.version > current)) {
      await client.query(m.sql);
      await client.query('INSERT INTO wca_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await client.query('COMMIT');
    return known;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

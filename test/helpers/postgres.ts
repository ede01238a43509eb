/**
 * A real PostgreSQL server for one test file: initdb and pg_ctl into a temporary
 * directory, listening only on a Unix socket there (no TCP port to collide on).
 * PostgreSQL refuses to run as root, so under root the server runs as the
 * `postgres` user (Debian's package creates it) and owns the directory.
 * Gate suites with `describe.runIf(hasTools('initdb', 'pgCtl'))`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { toolPath } from './tools.js';

const run = promisify(execFile);

export interface TestPostgres {
  /** The socket directory: `host` for clients. */
  socketDir: string;
  port: number;
  user: string;
  /** Settings for `state.postgres` (database defaults to the maintenance database). */
  config(database?: string): { host: string; port: number; database: string; user: string };
  /** A fresh, empty database; returns its name. */
  createDatabase(): Promise<string>;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: clients see their connections cut, new ones refused. */
  stop(): Promise<void>;
  /** Stops the server and removes everything. */
  close(): Promise<void>;
}

let databases = 0;

export async function startTestPostgres(): Promise<TestPostgres> {
  const initdb = toolPath('initdb');
  const pgCtl = toolPath('pgCtl');
  if (!initdb || !pgCtl) throw new Error('initdb/pg_ctl not installed (apt-get install postgresql)');
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-pg-'));
  const data = path.join(dir, 'data');
  const user = asRoot ? 'postgres' : os.userInfo().username;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    fs.chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (bin: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args));
  // A free port number only names the socket file (no TCP listener); unique per file anyway.
  const port = 20_000 + (process.pid % 20_000);
  await as(initdb, ['-D', data, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8']);
  const options = `-c listen_addresses='' -c unix_socket_directories=${dir} -p ${port} -c fsync=off -c max_connections=200`;
  const start = async () => {
    await as(pgCtl, ['start', '-D', data, '-w', '-t', '30', '-l', path.join(dir, 'server.log'), '-o', options]);
  };
  const stop = async () => {
    await as(pgCtl, ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30']);
  };
  await start();
  let running = true;
  const config = (database = 'postgres') => ({ host: dir, port, database, user });
  return {
    socketDir: dir,
    port,
    user,
    config,
    async createDatabase() {
      const name = `wca_test_${process.pid}_${++databases}`;
      const client = new pg.Client(config());
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return name;
    },
    start: async () => {
      await start();
      running = true;
    },
    stop: async () => {
      await stop();
      running = false;
    },
    close: async () => {
      if (running) await stop().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

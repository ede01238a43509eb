/**
 * A real PostgreSQL server for one test file: a copy of the data directory initdb
 * made once per run (templateData), and pg_ctl, in a temporary directory, listening
 * only on a Unix socket there (no TCP port to collide on).
 * PostgreSQL refuses to run as root, so under root the server runs as the
 * `postgres` user (Debian's package creates it) and owns the directory.
 * Gate suites with `describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
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

export interface TestPostgresOptions {
  /**
   * Also listen on 127.0.0.1 (a free port) with TLS only and SCRAM passwords there.
   * The server's key file is test material in the temporary directory, removed after.
   */
  tls?: { certPem: string; keyPem: string; password: string };
}

type RunAs = (bin: string, args: string[]) => Promise<unknown>;

/**
 * A data directory made by initdb once per test run, in the run's build folder (removed
 * with it, and a dead run's by the next): a cluster is a copy of it (`cp -a`, about a
 * fifth of initdb's time on a loaded box). One worker makes it (the one that creates
 * the lock folder), under a temporary name renamed into place when complete; the others
 * wait for it, and past 30 s run initdb themselves. Undefined outside a vitest run (no
 * build folder) or when it could not be made: then initdb each time.
 */
let template: Promise<string | undefined> | undefined;

function templateData(as: RunAs, initdb: string, user: string, owner: { uid: number; gid: number } | undefined): Promise<string | undefined> {
  const root = process.env.WCA_TEST_BUILD;
  if (!root || !fs.existsSync(root)) return Promise.resolve(undefined);
  template ??= (async () => {
    const final = path.join(root, `postgres-template-${user}`);
    const data = path.join(final, 'data');
    const made = () => fs.existsSync(path.join(data, 'PG_VERSION'));
    if (made()) return data;
    try {
      fs.mkdirSync(`${final}.lock`);
    } catch {
      // Another worker is making it.
      const end = Date.now() + 30_000;
      while (!made()) {
        if (Date.now() > end) return undefined;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return data;
    }
    const staging = fs.mkdtempSync(path.join(root, 'postgres-template-'));
    try {
      if (owner) fs.chownSync(staging, owner.uid, owner.gid);
      await as(initdb, ['-D', path.join(staging, 'data'), '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8']);
      fs.renameSync(staging, final);
      return data;
    } catch {
      fs.rmSync(staging, { recursive: true, force: true });
      return undefined;
    }
  })();
  return template;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startTestPostgres(options: TestPostgresOptions = {}): Promise<TestPostgres> {
  const initdb = toolPath('initdb');
  const pgCtl = toolPath('pgCtl');
  if (!initdb || !pgCtl) throw new Error('initdb/pg_ctl not installed (apt-get install postgresql)');
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-pg-'));
  const data = path.join(dir, 'data');
  const user = asRoot ? 'postgres' : os.userInfo().username;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    owner = { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
    fs.chownSync(dir, owner.uid, owner.gid);
  }
  const as = (bin: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args));
  // Without TLS the port only names the socket file (no TCP listener).
  const port = options.tls ? await freePort() : 20_000 + (process.pid % 20_000);
  const fromTemplate = await templateData(as, initdb, user, owner);
  if (fromTemplate) await as('cp', ['-a', fromTemplate, data]);
  else await as(initdb, ['-D', data, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8']);
  let serverOptions = `-c listen_addresses='' -c unix_socket_directories=${dir} -p ${port} -c fsync=off -c max_connections=200`;
  if (options.tls) {
    const owner = fs.statSync(dir);
    for (const [file, text] of [['server.crt', options.tls.certPem], ['server.key', options.tls.keyPem]] as const) {
      fs.writeFileSync(path.join(dir, file), text, { mode: 0o600 });
      fs.chownSync(path.join(dir, file), owner.uid, owner.gid);
    }
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n');
    serverOptions =
      `-c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -p ${port} -c fsync=off -c ssl=on ` +
      `-c ssl_cert_file=${dir}/server.crt -c ssl_key_file=${dir}/server.key`;
  }
  const start = async () => {
    await as(pgCtl, ['start', '-D', data, '-w', '-t', '30', '-l', path.join(dir, 'server.log'), '-o', serverOptions]);
  };
  const stop = async () => {
    await as(pgCtl, ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30']);
  };
  await start();
  let running = true;
  const config = (database = 'postgres') => ({ host: dir, port, database, user });
  if (options.tls) {
    const client = new pg.Client(config());
    await client.connect();
    try {
      await client.query(`ALTER ROLE ${user} PASSWORD '${options.tls.password.replace(/'/g, "''")}'`);
    } finally {
      await client.end();
    }
  }
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

/**
 * Replicas for the reliability suite: one disk upstream root shared by all, each
 * replica with its own config (production profile, TLS SDS, join tokens, admin
 * socket), in this process or as a child process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createTestRootCa, privateKeyPem } from '../fakes/upstream-ca.js';
import type { TestPostgres } from '../helpers/postgres.js';
import { builtPath } from '../helpers/test-build.js';

export { SERVER_ID, until } from '../e2e/fleet-app.js';

/** `WCA_SOAK=1` lengthens every phase of the suite this many times. */
export const soak = process.env.WCA_SOAK ? Math.max(Number(process.env.WCA_SOAK) || 1, 1) * 10 : 1;

export interface Site {
  dir: string;
  /** Writes `<name>.yaml` for a replica and returns its path; `pingInterval` sets the SDS connections' PING interval and timeout alike. */
  config(name: string, options?: { db?: TestPostgres; database?: string; leafTtl?: string; idleTimeout?: string; pingInterval?: string; maxIssuanceWait?: string }): string;
  close(): void;
}

export async function createSite(prefix: string): Promise<Site> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const root = await createTestRootCa({ name: 'Reliability Root' });
  fs.writeFileSync(path.join(dir, 'root.pem'), root.rootPem);
  fs.writeFileSync(path.join(dir, 'root.key'), await privateKeyPem(root.rootKeys), { mode: 0o600 });
  return {
    dir,
    config(name, { db, database, leafTtl, idleTimeout, pingInterval, maxIssuanceWait } = {}) {
      fs.mkdirSync(path.join(dir, name), { mode: 0o700, recursive: true });
      const file = path.join(dir, `${name}.yaml`);
      const state = db
        ? `state: { store: postgres, postgres: { host: "${db.socketDir}", port: ${db.port}, database: ${database}, user: ${db.user}, statementTimeout: 1s, heartbeatInterval: 1s } }`
        : 'state: { store: memory }';
      fs.writeFileSync(
        file,
        [
          'profile: production',
          'trustDomain: cluster.local',
          `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/${name}/admin.sock" }`,
          `upstream: { plugin: disk, config: { certFile: ${dir}/root.pem, keyFile: ${dir}/root.key } }`,
          `sds: { transport: mtls, connections: { ${[idleTimeout && `idleTimeout: ${idleTimeout}`, pingInterval && `pingInterval: ${pingInterval}, pingTimeout: ${pingInterval}`].filter(Boolean).join(', ')} } }`,
          ...(leafTtl || maxIssuanceWait ? [`ca: { ${[leafTtl && `leafTtl: ${leafTtl}`, maxIssuanceWait && `maxIssuanceWait: ${maxIssuanceWait}`].filter(Boolean).join(', ')} }`] : []),
          'identity: { joinToken: { maxTtl: 1h, reuseWindow: 30s } }',
          state,
          'log: { level: silent }',
          'audit: { sink: none }',
          '',
        ].join('\n'),
      );
      return file;
    },
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface InProcessReplica {
  app: App;
  admin: AdminClient;
  sds: string;
  bundlePem: string;
  close(): Promise<void>;
}

export async function startInProcess(file: string, replicaId: string): Promise<InProcessReplica> {
  const app = await startApp(loadConfig({ file, env: {} }), { logger: silentLogger(), env: {}, configDir: path.dirname(file), replicaId });
  const admin = connectAdmin(app.addresses.admin!.slice('unix:'.length));
  return {
    app,
    admin,
    sds: app.addresses.sds!,
    bundlePem: app.authority.bundle().pem,
    close: async () => {
      admin.close();
      await app.close();
    },
  };
}

export interface ChildReplica {
  child: ChildProcess;
  pid: number;
  sds: string;
  http: string;
  admin: AdminClient;
  bundlePem: string;
  /** Full GC in the child, then its RSS in bytes. */
  gcRss(): Promise<number>;
  /** Connections the child's SDS listener holds open, accepted and not yet closed (their descriptors with them). */
  sdsConnections(): Promise<number>;
  /** Open file descriptors of the child, from /proc. */
  fdCount(): number;
  close(): Promise<void>;
}

const childScript = builtPath(fileURLToPath(new URL('./replica-process.ts', import.meta.url)));

export async function startChild(file: string, replicaId: string): Promise<ChildReplica> {
  const child = fork(childScript, [file, replicaId], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ addresses: Record<string, string>; bundlePem: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('replica process did not start in 30 s')), 30_000);
    child.once('message', (m: any) => (clearTimeout(timer), resolve(m)));
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`replica process exited with ${code}`))));
  });
  const admin = connectAdmin(ready.addresses.admin!.slice('unix:'.length));
  /** Sends a question and resolves with the `key` of the first answer carrying it. */
  const ask = <T>(question: object, key: string) =>
    new Promise<T>((resolve) => {
      const answer = (m: any) => {
        if (m?.[key] === undefined) return;
        child.off('message', answer);
        resolve(m[key]);
      };
      child.on('message', answer);
      child.send(question);
    });
  return {
    child,
    pid: child.pid!,
    sds: ready.addresses.sds!,
    http: ready.addresses.http!,
    admin,
    bundlePem: ready.bundlePem,
    gcRss: () => ask<number>({ gc: true }, 'rss'),
    sdsConnections: () => ask<number>({ connections: true }, 'connections'),
    fdCount: () => fs.readdirSync(`/proc/${child.pid}/fd`).length,
    close: async () => {
      admin.close();
      if (child.exitCode === null && child.signalCode === null) child.send({ close: true });
      await exited;
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

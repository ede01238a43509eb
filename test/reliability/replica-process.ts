/**
 * A replica as its own process, for what only a process can show (kill -9, its RSS
 * and file descriptors): `startApp` on the config file in argv[2] with replica ID
 * argv[3]. Tells its parent (IPC) its addresses and bundle once serving; on
 * `{ gc: true }` collects garbage (run with --expose-gc) and answers its RSS.
 */
import 'reflect-metadata';
import path from 'node:path';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const [file, replicaId] = process.argv.slice(2) as [string, string];
const app = await startApp(loadConfig({ file, env: {} }), { logger: silentLogger(), env: {}, configDir: path.dirname(file), replicaId });
process.send!({ ready: true, addresses: app.addresses, bundlePem: app.authority.bundle().pem });
process.on('message', (msg: { gc?: boolean; close?: boolean }) => {
  if (msg.gc) {
    // Several passes: the first frees what holds the rest (closures over sockets, timers).
    for (let i = 0; i < 4; i++) globalThis.gc!();
    process.send!({ rss: process.memoryUsage().rss });
  }
  if (msg.close) void app.close().then(() => process.exit(0));
});

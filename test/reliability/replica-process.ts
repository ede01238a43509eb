/**
 * A replica as its own process, for what only a process can show (kill -9, its RSS
 * and file descriptors): `startApp` on the config file in argv[2] with replica ID
 * argv[3]. Tells its parent (IPC) its addresses and bundle once serving; on
 * `{ gc: true }` collects garbage (run with --expose-gc) and answers its RSS; on
 * `{ connections: true }` answers how many connections the SDS listener holds open
 * (from the TCP accept until the socket's 'close', when its descriptor is gone; -1
 * without a TLS listener).
 */
import 'reflect-metadata';
import path from 'node:path';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const [file, replicaId] = process.argv.slice(2) as [string, string];
const app = await startApp(loadConfig({ file, env: {} }), { logger: silentLogger(), env: {}, configDir: path.dirname(file), replicaId });
process.send!({ ready: true, addresses: app.addresses, bundlePem: app.authority.bundle().pem });
process.on('message', (msg: { gc?: boolean; connections?: boolean; close?: boolean }) => {
  if (msg.gc) {
    // Several passes: the first frees what holds the rest (closures over sockets, timers).
    for (let i = 0; i < 4; i++) globalThis.gc!();
    process.send!({ rss: process.memoryUsage().rss });
  }
  if (msg.connections) process.send!({ connections: app.metrics.probes.sdsConnections?.()?.open ?? -1 });
  if (msg.close) void app.close().then(() => process.exit(0));
});

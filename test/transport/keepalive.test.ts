/**
 * The silence watch on its own, over stand-in sockets (only bytesRead, destroy and
 * 'close' matter to it); test/adversarial/vanishing-peers.test.ts runs it on real ones.
 */
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { adminConfigSchema } from '../../src/admin/config.js';
import { connectionsConfigSchema } from '../../src/transport/config.js';
import { keepaliveOf, keepaliveServerOptions, watchSilence, type SilenceWatch } from '../../src/transport/keepalive.js';

const KEEPALIVE = { intervalMs: 100, timeoutMs: 100 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class StandIn extends EventEmitter {
  bytesRead = 0;
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

let watch: SilenceWatch | undefined;
afterEach(() => watch?.stop());

describe('watchSilence', () => {
  it('destroys a connection that receives nothing for interval + timeout, and keeps one that does', async () => {
    const silent: TLSSocket[] = [];
    watch = watchSilence(KEEPALIVE, (socket) => silent.push(socket));
    const quiet = new StandIn();
    const talking = new StandIn();
    watch.add(quiet as unknown as TLSSocket);
    watch.add(talking as unknown as TLSSocket);
    const started = performance.now();
    while (!quiet.destroyed && performance.now() - started < 5000) {
      talking.bytesRead += 17;
      await sleep(20);
    }
    expect(quiet.destroyed).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(KEEPALIVE.intervalMs + KEEPALIVE.timeoutMs);
    expect(silent).toEqual([quiet]);
    expect(talking.destroyed).toBe(false);
  });

  it('judges nobody on a gap in which its own event loop was blocked', async () => {
    watch = watchSilence(KEEPALIVE, () => undefined);
    const quiet = new StandIn();
    watch.add(quiet as unknown as TLSSocket);
    const until = performance.now() + 3 * (KEEPALIVE.intervalMs + KEEPALIVE.timeoutMs);
    while (performance.now() < until); // the loop is blocked: answers that arrived meanwhile are not read yet
    await sleep(1); // the overdue sweep runs first
    expect(quiet.destroyed).toBe(false);
    await sleep(1000);
    expect(quiet.destroyed).toBe(true);
  });

  it('turns the config keys into the grpc-js PING options the watch assumes', () => {
    const keepalive = keepaliveOf({ pingInterval: 30, pingTimeout: 10 });
    expect(keepalive).toEqual({ intervalMs: 30_000, timeoutMs: 10_000 });
    expect(keepaliveServerOptions(keepalive)).toEqual({ 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
  });
});

describe('keepalive and idle config bounds', () => {
  const adminTcp = (connections: Record<string, string>) => ({
    tcp: { address: '127.0.0.1:9443', tls: { certFile: 'c', keyFile: 'k', clientCaFile: 'ca' }, allow: ['spiffe://a.example/ops'], connections },
  });
  // Past 2^31 - 1 ms a Node timer fires after 1 ms: unbounded values turned "never" into "at once".
  it.each([
    ['sds', 'pingInterval', '100000d'],
    ['sds', 'pingInterval', '2h'],
    ['sds', 'pingTimeout', '100000d'],
    ['sds', 'pingTimeout', '1ms'],
    ['sds', 'idleTimeout', '100000d'],
    ['admin', 'pingInterval', '2h'],
    ['admin', 'idleTimeout', '100000d'],
  ])('%s connections.%s %s is refused, naming the key', (section, key, value) => {
    const result = section === 'sds' ? connectionsConfigSchema.safeParse({ [key]: value }) : adminConfigSchema.safeParse(adminTcp({ [key]: value }));
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.at(-1))).toEqual([key]);
  });

  it('keeps what an operator means: 1h interval, 10m timeout, a day of idleness', () => {
    expect(connectionsConfigSchema.parse({ pingInterval: '1h', pingTimeout: '10m', idleTimeout: '1d' })).toMatchObject({ pingInterval: 3600, pingTimeout: 600, idleTimeout: 86_400 });
    expect(adminConfigSchema.parse(adminTcp({ pingInterval: '1h', idleTimeout: '1d' })).tcp!.connections).toMatchObject({ pingInterval: 3600, idleTimeout: 86_400 });
  });
});

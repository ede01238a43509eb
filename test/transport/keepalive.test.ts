/**
 * The silence watch on its own, over stand-in sockets (only bytesRead, destroy and
 * 'close' matter to it); test/adversarial/vanishing-peers.test.ts runs it on real ones.
 */
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
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

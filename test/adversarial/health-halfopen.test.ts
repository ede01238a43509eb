import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { limits } from '../../src/limits.js';
import { ServingState } from '../../src/telemetry/serving-state.js';
import { healthClient } from '../helpers/health-client.js';
import { serveProcess } from '../helpers/serve-process.js';
import { startHarness } from '../sds/harness.js';
import { connectRaw, openIdleStream, rawTarget } from './raw-h2.js';

/**
 * Issue #11 F1: grpc.health.v1 calls that send headers and never the request message,
 * over raw HTTP/2 (node:http2, no gRPC library). Unary Check and List as well as Watch
 * count against the health budget from their headers on, end with DEADLINE_EXCEEDED
 * when no request arrives within sds.firstRequestTimeout, and end at once on SIGTERM.
 */

const methods = ['Check', 'List', 'Watch'].map((m) => `/grpc.health.v1.Health/${m}`);

// One connection: its streams reach the server in the order they were opened, so the refused one comes last.
async function rawSession(address: string): Promise<http2.ClientHttp2Session> {
  const session = await connectRaw(rawTarget(address));
  onTestFinished(() => session.destroy());
  return session;
}

describe('half-open grpc.health.v1 calls', () => {
  it(`count against the health budget: past ${limits.healthCallsPerAddress} from one address RESOURCE_EXHAUSTED; after firstRequestTimeout DEADLINE_EXCEEDED and freed`, async () => {
    const serving = new ServingState(() => ({ state: 'ready' }), []);
    // Ample for the three refusals and the probe below (tens of ms), which must all land while the calls are held.
    const h = await startHarness({ health: serving, config: { firstRequestTimeout: '1s' } });
    onTestFinished(() => h.close());
    const health = healthClient(h.server.address);
    onTestFinished(() => health.close());
    const session = await rawSession(h.server.address);

    // Headers only, over all three methods.
    const held = Array.from({ length: limits.healthCallsPerAddress }, (_, i) => openIdleStream(session, methods[i % 3]));
    const opened = Date.now();
    for (const path of methods) {
      const refused = await openIdleStream(session, path).outcome;
      expect(refused.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.grpcMessage).toContain('healthCallsPerAddress');
    }
    // A well-behaved probe from the same address is refused too while they are held...
    await expect(health.check()).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });

    // ...until the deadline ends each of them and frees its slot.
    const outcomes = await Promise.all(held.map((c) => c.outcome));
    for (const outcome of outcomes) expect(outcome.grpcStatus).toBe(grpc.status.DEADLINE_EXCEEDED);
    // Not before (most of) the deadline.
    expect(Date.now() - opened).toBeGreaterThanOrEqual(750);
    expect(await health.check()).toBe('SERVING');
  });

  it('SIGTERM ends them with UNAVAILABLE and the process exits within shutdownTimeout + 1 s', async () => {
    // The raw session below never closes its side, so the drain lasts the whole shutdownTimeout.
    const shutdownTimeoutSeconds = 1;
    // A long first-request deadline, so only the shutdown can end them.
    const { child, sds, exited } = await serveProcess({ sds: () => '127.0.0.1:0', yaml: `shutdownTimeout: ${shutdownTimeoutSeconds}s\nsds: { firstRequestTimeout: 60s }\n` });
    const session = await rawSession(sds);
    const held = Array.from({ length: limits.healthCallsPerAddress }, (_, i) => openIdleStream(session, methods[i % 3]));
    // The budget is full: every held call reached its handler before the signal.
    expect((await openIdleStream(session, methods[0]).outcome).grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);

    const signalled = Date.now();
    const exit = exited(signalled);
    child.kill('SIGTERM');
    const outcomes = await Promise.all(held.map((c) => c.outcome));
    for (const outcome of outcomes) expect(outcome.grpcStatus).toBe(grpc.status.UNAVAILABLE);
    const result = await Promise.race([exit, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 15_000))]);
    expect(result).toMatchObject({ code: 0 });
    expect((result as { ms: number }).ms).toBeLessThan((shutdownTimeoutSeconds + 1) * 1000);
  }, 60_000);
});

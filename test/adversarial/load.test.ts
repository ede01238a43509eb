import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { counterValue, startHarness, trustDomain, type Harness } from '../sds/harness.js';
import { envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';

/**
 * Issue #11 item 6: one caller instance cannot hold more streams than
 * sds.maxStreamsPerInstance, and an overloaded signer sheds new subscribers with
 * RESOURCE_EXHAUSTED instead of queueing without bound. Real gRPC, real dev CA.
 * The dev profile names the instance by node.id, so one node.id is one instance.
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function open(harness: Harness, nodeId: string, client = harness.client()): XdsStream {
  const stream = XdsStream.sotw(client);
  stream.send({ node: envoyNode(nodeId), type_url: secretTypeUrl, resource_names: ['default'] });
  return stream;
}

describe('per-instance stream cap (sds.maxStreamsPerInstance)', () => {
  it('ends the stream past the cap with RESOURCE_EXHAUSTED naming the setting; the instance\'s other streams and other callers are unaffected', async () => {
    h = await startHarness({ config: { maxStreamsPerInstance: 3 } });
    const client = h.client();
    const held = [open(h, 'greedy', client), open(h, 'greedy', client), open(h, 'greedy', client)];
    for (const s of held) expect((await s.next()).resources).toHaveLength(1);

    const extra = open(h, 'greedy', client);
    const status = await Promise.race([extra.status, extra.next().then(() => ({ code: grpc.status.OK, details: 'served past the cap' }))]);
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toContain('sds.maxStreamsPerInstance');
    expect(await counterValue(h.metrics.shed, { limit: 'streams-per-instance' })).toBe(1);

    // Another instance on the same connection is served.
    expect((await open(h, 'neighbour', client).next()).resources).toHaveLength(1);
    // The held streams are still open: a rotation reaches each of them.
    await h.rotate();
    for (const s of held) expect((await s.next()).resources).toHaveLength(1);

    // Closing one frees its place.
    held[0]!.cancel();
    await expect.poll(async () => {
      const again = open(h!, 'greedy', client);
      const outcome = await Promise.race([again.next().then(() => 'served'), again.status.then((s) => `ended ${s.code}`)]);
      again.cancel();
      return outcome;
    }, { timeout: 5_000 }).toBe('served');
  });
});

describe('queued issuance bound (ca.maxQueuedIssuance)', () => {
  it('sheds new subscribers past the bound with RESOURCE_EXHAUSTED naming the setting, serves the rest, and keeps serving streams already served', async () => {
    const caMetrics = createMetrics();
    const authority = await createDevAuthority({ trustDomain, maxQueuedIssuance: 2, metrics: caMetrics });
    try {
      h = await startHarness({ authority });
      const early = open(h, 'early');
      expect((await early.next()).resources).toHaveLength(1);

      const burst = Array.from({ length: 100 }, (_, i) => open(h!, `burst-${i}`));
      const outcomes = await Promise.all(
        burst.map((s) => Promise.race([s.next().then(() => ({ served: true as const })), s.status.then((st) => ({ served: false as const, ...st }))])),
      );
      const shed = outcomes.filter((o) => !o.served);
      expect(outcomes.filter((o) => o.served).length).toBeGreaterThan(0);
      expect(shed.length).toBeGreaterThan(0);
      for (const o of shed) {
        expect(o).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
        expect((o as { details: string }).details).toContain('ca.maxQueuedIssuance');
      }
      expect(await counterValue(caMetrics.shed, { limit: 'queued-issuance' })).toBe(shed.length);

      // Nothing else was lost: the early stream is open and receives its re-issued certificate.
      burst.forEach((s) => s.cancel());
      await h.rotate();
      expect((await early.next()).resources).toHaveLength(1);
    } finally {
      await h?.close();
      h = undefined;
      await authority.close();
    }
  });
});

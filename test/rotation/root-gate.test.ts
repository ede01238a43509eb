import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { RootGate } from '../../src/rotation/root-gate.js';
import { Rotator } from '../../src/rotation/rotator.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { pemBlocks } from '../../src/x509/der.js';
import type { MintRequest, UpstreamAuthority } from '../../src/upstream/types.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { createTestRootCa, capturingLogger, type TestRootCa } from '../fakes/upstream-ca.js';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { startHarness, type Harness } from '../sds/harness.js';

const HOUR = 3600_000;

async function until(check: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RootGate', () => {
  const bundle = { pem: 'ROOT-A\nROOT-B\n', version: 'v2' };
  it('lets an intermediate on the same roots through, holds a new root until ACKed by the share, or until the grace (logged once)', () => {
    const clock = new FakeClock(0);
    let acks = { acked: 1, subscribers: 4 };
    const logs = capturingLogger();
    const gate = new RootGate({ clock, logger: logs.logger, acks: { bundleAcks: () => acks }, share: 0.75, graceMs: HOUR });
    expect(gate.allows(['ROOT-A'], ['ROOT-A'], bundle)).toBe(true);
    expect(gate.allows(['ROOT-B'], ['ROOT-A'], bundle)).toBe(false);
    expect(gate.allows(['ROOT-C'], ['ROOT-A'], bundle)).toBe(false);
    acks = { acked: 3, subscribers: 4 };
    expect(gate.allows(['ROOT-B'], ['ROOT-A'], bundle)).toBe(true);
    acks = { acked: 0, subscribers: 4 };
    clock.advance(HOUR);
    expect(gate.allows(['ROOT-B'], ['ROOT-A'], bundle)).toBe(true);
    expect(gate.allows(['ROOT-B'], ['ROOT-A'], bundle)).toBe(true);
    expect(logs.lines().filter((l) => String(l.msg).includes('grace passed'))).toHaveLength(1);
    // Never a root missing from the bundle, grace or not.
    expect(gate.allows(['ROOT-C'], ['ROOT-A'], bundle)).toBe(false);
  });
});

describe('root rotation with real SDS subscribers', () => {
  let h: Harness | undefined;
  const streams: XdsStream[] = [];
  afterAll(async () => {
    streams.forEach((s) => s.cancel());
    await h?.close();
  });

  it('no subscriber receives a leaf under the new root before it ACKed the bundle carrying that root', async () => {
    const rootA = await createTestRootCa({ name: 'Root A' });
    const rootB = await createTestRootCa({ name: 'Root B' });
    let current: TestRootCa = rootA;
    const upstream: UpstreamAuthority = {
      name: 'switching-test-upstream',
      mintIntermediate: (request: MintRequest) => current.upstream().mintIntermediate(request),
      fetchRoots: async () => [current.rootPem],
      close: async () => undefined,
    };
    const clock = new FakeClock(Date.now());
    const authority = new Authority({
      trustDomain: 'cluster.local',
      upstream,
      clock,
      logger: silentLogger(),
      metrics: createMetrics(),
      keyType: 'ec-p256',
      intermediateTtlSeconds: 6 * 3600,
      defaultLeafTtlSeconds: 3600,
      maxLeafTtlSeconds: 3600,
      backdateSeconds: 30,
      signers: 1,
    });
    await authority.start();
    const convergence = new ConvergenceTracker({ clock: systemClock });
    h = await startHarness({ authority, convergence });
    const rootBKey = new X509Certificate(rootB.rootPem).publicKey;

    // Per node, in order: what it ACKed (bundle with root B) and what it received (leaf under root B).
    const log = new Map<string, string[]>();
    let releaseSlow: () => void = () => undefined;
    const slowReleased = new Promise<void>((r) => (releaseSlow = r));
    const nodes = ['n0', 'n1', 'slow'];
    for (const node of nodes) {
      log.set(node, []);
      const events = log.get(node)!;
      for (const name of ['ROOTCA', 'default']) {
        const stream = XdsStream.sotw(h.client());
        streams.push(stream);
        stream.send({ node: envoyNode(node), resource_names: [name], type_url: secretTypeUrl });
        void (async () => {
          for (;;) {
            const res = await stream.next().catch(() => undefined);
            if (!res) return;
            const secret = decodeSecret(res.resources[0]);
            if (name === 'ROOTCA') {
              const hasB = secret.trustedCa!.includes(rootB.rootPem.trim());
              if (hasB && node === 'slow') await slowReleased;
              events.push(hasB ? 'acked-bundle-B' : 'acked-bundle-A');
            } else {
              const intermediate = new X509Certificate(pemBlocks(secret.certificateChain!)[1]!);
              events.push(intermediate.verify(rootBKey) ? 'leaf-B' : 'leaf-A');
            }
            stream.send({ version_info: res.version_info, resource_names: [name], type_url: secretTypeUrl, response_nonce: res.nonce });
          }
        })();
      }
    }
    await until(() => convergence.bundleAcks(authority.bundle().version).acked === 3 && convergence.summary(authority.slotLifetimes().active!.id, '').converged === 3);

    const gate = new RootGate({ clock, logger: silentLogger(), acks: convergence, share: 1, graceMs: 24 * HOUR });
    const rotator = new Rotator(authority, {
      clock,
      logger: silentLogger(),
      mayActivate: () => gate.allows(authority.rootsOf('prepared'), authority.rootsOf('active'), authority.bundle()),
    });
    const first = authority.slotLifetimes().active!.id;
    current = rootB;
    clock.advance(3 * HOUR + 1000);
    expect(await rotator.tick()).toBe('prepare');
    // The bundle (A + B) went out with the prepared authority; two nodes ACK it, the slow one holds.
    await until(() => convergence.bundleAcks(authority.bundle().version).acked === 2);
    clock.advance(2 * HOUR);
    expect(await rotator.tick()).toBe('none');
    expect(authority.slotLifetimes().active!.id).toBe(first);

    // Time for a wrongly activated leaf to reach the slow node before it ACKs the bundle.
    await new Promise((r) => setTimeout(r, 500));
    releaseSlow();
    await until(() => convergence.bundleAcks(authority.bundle().version).acked === 3);
    expect(await rotator.tick()).toBe('activate');
    await until(() => nodes.every((n) => log.get(n)!.includes('leaf-B')));
    for (const node of nodes) {
      const events = log.get(node)!;
      expect(events.indexOf('acked-bundle-B'), `${node}: ${events.join(',')}`).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('acked-bundle-B'), `${node}: ${events.join(',')}`).toBeLessThan(events.indexOf('leaf-B'));
    }
    await authority.close();
  }, 60_000);
});

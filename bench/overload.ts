/**
 * Overload benchmark: first the capacity of the SDS server for new-certificate
 * requests (a new node opens a stream and waits for its first certificate; closed
 * loop, so the server runs flat out), then an open loop offering 3× that rate.
 * Admitted requests should keep a bounded p99 and the rest be shed with
 * RESOURCE_EXHAUSTED, nothing else. Clients run in a child process
 * (bench/overload-clients.ts). Baseline, same run: the capacity phase.
 * `node --import tsx bench/overload.ts`, or runOverloadBench() from bench/run.ts.
 */
import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/clock.js';
import { createDevAuthority } from '../src/app/dev-authority.js';
import { InsecureDevAuthenticator } from '../src/identity/insecure-dev.js';
import { rulePolicyWithBuiltins } from '../src/identity/policy/builtin.js';
import { limits } from '../src/limits.js';
import { sdsConfigSchema } from '../src/sds/config.js';
import { startSdsServer } from '../src/sds/server.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import type { Outcome } from './overload-clients.js';
import { forkBenchChild } from './sds-scale.js';

export interface OverloadResult {
  connections: number;
  capacity: Outcome & { perSecond: number; concurrency: number };
  overload: Outcome & { offered: number; offeredPerSecond: number; seconds: number; unanswered: number };
  /** wca_shed_total by limit, after the run. */
  shedBy: Record<string, number>;
  /** Where the backlog sat during the overload phase: most signing jobs queued or running, most open streams. */
  peak: { signQueue: number; streams: number };
}

export async function runOverloadBench(options: { connections?: number; concurrency?: number; capacitySeconds?: number; overloadSeconds?: number; factor?: number } = {}): Promise<OverloadResult> {
  const connections = options.connections ?? 100;
  const concurrency = options.concurrency ?? 64;
  const capacitySeconds = options.capacitySeconds ?? 4;
  const overloadSeconds = options.overloadSeconds ?? 6;
  const factor = options.factor ?? 3;

  const logger = silentLogger();
  const metrics = createMetrics();
  const authority = await createDevAuthority({ trustDomain: 'cluster.local', metrics });
  const listen = { kind: 'tcp' as const, host: '127.0.0.1', port: 0 };
  const server = await startSdsServer({
    issuer: authority,
    authenticators: [new InsecureDevAuthenticator({ profile: 'dev', trustDomain: 'cluster.local', listen, logger })],
    policy: rulePolicyWithBuiltins('cluster.local', [], 3600),
    // Every simulated Envoy connects from 127.0.0.1: lift the per-address cap to its
    // ceiling. Every other limit (pending streams, queued issuance) stays at its default.
    config: sdsConfigSchema.parse({ maxStreamsPerAddress: limits.sdsStreamsPerAddressMax, maxEventLoopDelay: '250ms' }),
    profile: 'dev',
    listen,
    logger,
    metrics,
    clock: systemClock,
  });
  const clients = forkBenchChild('./overload-clients.ts', [server.address, String(connections)], 120_000);
  try {
    await clients.next('ready');
    clients.send({ type: 'capacity', seconds: capacitySeconds, concurrency });
    const capacity = (await clients.next('capacity')) as unknown as Outcome;
    const perSecond = Math.round((capacity.admitted / capacity.elapsedMs) * 1000);
    const offeredPerSecond = perSecond * factor;
    const peak = { signQueue: 0, streams: 0 };
    const sampler = setInterval(() => {
      void metrics.signQueueDepth.get().then((g) => (peak.signQueue = Math.max(peak.signQueue, g.values[0]?.value ?? 0)));
      peak.streams = Math.max(peak.streams, server.streams());
    }, 20);
    clients.send({ type: 'offer', rate: offeredPerSecond, seconds: overloadSeconds });
    const overload = (await clients.next('offer')) as unknown as OverloadResult['overload'];
    clearInterval(sampler);
    const shedBy: Record<string, number> = {};
    for (const v of (await metrics.shed.get()).values) shedBy[String(v.labels.limit)] = v.value;
    return {
      connections,
      capacity: { ...capacity, perSecond, concurrency },
      overload: { ...overload, offeredPerSecond, seconds: overloadSeconds },
      shedBy,
      peak,
    };
  } finally {
    await clients.close();
    await server.close();
    await authority.close();
  }
}

export function printOverloadBench(r: OverloadResult): void {
  const c = r.capacity;
  const o = r.overload;
  const errors = Object.entries(o.errors);
  console.log(`Overload: new-certificate requests (a new node's first SDS stream), clients in a child process, ${r.connections} connections`);
  console.log(`  capacity, closed loop ${c.concurrency} concurrent  ${c.perSecond}/s; p50 ${c.p50Ms} ms, p99 ${c.p99Ms} ms (baseline)`);
  console.log(`  offered ${(o.offeredPerSecond / c.perSecond).toFixed(0)}× = ${o.offeredPerSecond}/s for ${o.seconds} s (${o.offered} requests): admitted ${o.admitted}, p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms`);
  console.log(`  shed ${o.shed} with RESOURCE_EXHAUSTED (${Object.entries(r.shedBy).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}); other errors ${errors.length === 0 ? 0 : JSON.stringify(o.errors)}; unanswered ${o.unanswered}`);
  console.log(`  peak during overload: ${r.peak.signQueue} signing jobs queued or running, ${r.peak.streams} open streams`);
  console.log(`  admitted p99 under overload / p99 at capacity: ${(o.p99Ms / c.p99Ms).toFixed(2)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runOverloadBench().then(
    (result) => {
      printOverloadBench(result);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

import { SimulatedEnvoy } from '../test/e2e/envoy-fleet.js';
import { startTestPostgres } from '../test/helpers/postgres.js';
import { createSite, SERVER_ID, startInProcess, until, type InProcessReplica } from '../test/reliability/replicas.js';

/**
 * Issue #13: a fleet-wide emergency rotation asked of one replica, timed until
 * every subscriber of every replica has installed, and so ACKed, a leaf under its
 * replica's new authority; against the same rotation on a single replica (memory
 * store) with as many subscribers per replica, in the same run. Real apps in this
 * process, Envoy-like clients each on its own TLS connection.
 */

export interface FleetRotationCost {
  replicas: number;
  subscribersPerReplica: number;
  /** From the admin call until the last subscriber of the fleet serves a new-authority leaf. */
  ms: number;
}

async function timeRotation(replicas: InProcessReplica[], perReplica: number): Promise<FleetRotationCost> {
  const envoys = new Map<InProcessReplica, SimulatedEnvoy[]>();
  for (const r of replicas) {
    const list: SimulatedEnvoy[] = [];
    for (let i = 0; i < perReplica; i++) {
      const { token } = await r.admin.createJoinToken({ spiffe_id: `spiffe://cluster.local/ns/bench/sa/w${i}`, dns_names: [], ttl_seconds: 600 });
      list.push(new SimulatedEnvoy({ address: r.sds, bootstrapBundlePem: r.bundlePem, serverId: SERVER_ID, nodeId: `w${i}~10.0.0.1`, authorization: `Bearer ${token}`, protocol: i % 2 ? 'delta' : 'sotw' }));
    }
    envoys.set(r, list);
  }
  try {
    await Promise.all([...envoys.values()].flat().map((e) => e.whenReady()));
    const active = (r: InProcessReplica) => r.app.authority.authorities().find((x) => x.state === 'active')!.id;
    const before = new Map(replicas.map((r) => [r, active(r)]));
    const start = performance.now();
    await replicas[0]!.admin.emergencyRotate({ reason: 'bench', deadline_seconds: 1 });
    await until(
      'every subscriber on its replica’s new authority',
      () => replicas.every((r) => active(r) !== before.get(r) && envoys.get(r)!.every((e) => e.currentAuthority() === active(r))),
      120_000,
    );
    return { replicas: replicas.length, subscribersPerReplica: perReplica, ms: performance.now() - start };
  } finally {
    [...envoys.values()].flat().forEach((e) => e.close());
  }
}

export async function runFleetRotationBench(options: { subscribersPerReplica?: number } = {}): Promise<FleetRotationCost[]> {
  const perReplica = options.subscribersPerReplica ?? 100;
  const site = await createSite('wca-bench-fleet-');
  const db = await startTestPostgres();
  try {
    const single = await startInProcess(site.config('single'), 'single');
    const results = [await timeRotation([single], perReplica).finally(() => single.close())];
    const database = await db.createDatabase();
    const pair = [await startInProcess(site.config('a', { db, database }), 'replica-a'), await startInProcess(site.config('b', { db, database }), 'replica-b')];
    try {
      results.push(await timeRotation(pair, perReplica));
    } finally {
      await Promise.all(pair.map((r) => r.close()));
    }
    return results;
  } finally {
    await db.close();
    site.close();
  }
}

export function printFleetRotationBench(results: FleetRotationCost[]): void {
  console.log('== emergency rotation until every subscriber serves a new-authority leaf (same run; one replica is the baseline) ==');
  const base = results[0]!;
  for (const r of results) {
    console.log(`${r.replicas} replica(s) × ${r.subscribersPerReplica} subscribers: ${r.ms.toFixed(0)} ms (${(r.ms / base.ms).toFixed(2)}x)`);
  }
}

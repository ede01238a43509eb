import os from 'node:os';
import { createDevAuthority } from '../src/app/dev-authority.js';
import { createKeyManager } from '../src/app/key-manager.js';
import { vaultTransitConfigSchema } from '../plugins/vault-transit/config.js';
import { systemClock } from '../src/clock.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { toolPath } from '../test/helpers/tools.js';
import { startOpenBao } from '../test/keys/vault-transit/openbao.js';
import { throughput } from './issue.js';

/**
 * Leaves per second with the intermediate key in Vault Transit (a local OpenBao
 * dev server, loopback HTTP), batched and unbatched, beside the in-memory key,
 * all in the same run.
 */

export interface TransitBenchResult {
  skipped?: string;
  memoryPerSec: number;
  batchedPerSec: number;
  unbatchedPerSec: number;
  batch: { maxSize: number; maxDelayMs: number; maxInFlight: number };
  unbatchedInFlight: number;
  counts: { memory: number; batched: number; unbatched: number };
}

const BATCH = { maxSize: 256, maxDelayMs: 2, maxInFlight: 4 };
const UNBATCHED_IN_FLIGHT = 16;
const spiffeIds = Array.from({ length: 1000 }, (_, i) => `spiffe://cluster.local/ns/bench/sa/w${i}`);

async function leavesPerSec(total: number, keyManager?: Awaited<ReturnType<typeof createKeyManager>>): Promise<number> {
  const authority = await createDevAuthority({ signers: os.availableParallelism(), keyManager });
  try {
    await throughput(Math.min(500, total), 256, (i) => authority.issue({ spiffeId: spiffeIds[i % 1000]! }));
    return await throughput(total, 512, (i) => authority.issue({ spiffeId: spiffeIds[i % 1000]! }));
  } finally {
    await authority.close();
    await keyManager?.close();
  }
}

export async function runTransitBench(options: { memory?: number; batched?: number; unbatched?: number } = {}): Promise<TransitBenchResult> {
  const counts = { memory: options.memory ?? 20_000, batched: options.batched ?? 5_000, unbatched: options.unbatched ?? 1_000 };
  const empty = { memoryPerSec: 0, batchedPerSec: 0, unbatchedPerSec: 0, batch: BATCH, unbatchedInFlight: UNBATCHED_IN_FLIGHT, counts };
  if (!toolPath('bao')) return { ...empty, skipped: 'OpenBao (bao) is not installed; see test/helpers/tools.ts' };
  const bao = await startOpenBao();
  try {
    const transit = (name: string, batch: typeof BATCH) =>
      createKeyManager(
        vaultTransitConfigSchema.parse({ type: 'vault-transit', address: bao.address, keyName: name, auth: { method: 'token', token: { env: 'T' } }, batch }),
        {
          logger: silentLogger(),
          now: () => systemClock.now(),
          schedule: systemClock.schedule,
          env: { T: bao.rootToken },
          intermediateTtlSeconds: 86_400,
        },
      );
    const memoryPerSec = await leavesPerSec(counts.memory);
    const batchedPerSec = await leavesPerSec(counts.batched, await transit('bench-batched', BATCH));
    const unbatchedPerSec = await leavesPerSec(counts.unbatched, await transit('bench-unbatched', { maxSize: 1, maxDelayMs: 0, maxInFlight: UNBATCHED_IN_FLIGHT }));
    return { ...empty, memoryPerSec, batchedPerSec, unbatchedPerSec };
  } finally {
    await bao.stop();
  }
}

export function printTransitBench(r: TransitBenchResult): void {
  console.log('== intermediate key in Vault Transit (OpenBao dev server on loopback) vs in memory ==');
  if (r.skipped) {
    console.log(`skipped: ${r.skipped}`);
    return;
  }
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`in-memory key (signer threads):                        ${fmt(r.memoryPerSec)} leaves/s  (${r.counts.memory} leaves, baseline)`);
  console.log(`Transit, batched (maxSize ${r.batch.maxSize}, maxDelayMs ${r.batch.maxDelayMs}, ${r.batch.maxInFlight} calls in flight): ${fmt(r.batchedPerSec)} leaves/s  ratio ${(r.batchedPerSec / r.memoryPerSec).toFixed(3)}  (${r.counts.batched} leaves)`);
  console.log(`Transit, unbatched (one call per leaf, ${r.unbatchedInFlight} in flight): ${fmt(r.unbatchedPerSec)} leaves/s  ratio ${(r.unbatchedPerSec / r.memoryPerSec).toFixed(3)}  (${r.counts.unbatched} leaves)`);
}

import { systemClock } from '../src/clock.js';
import { JoinTokenStore } from '../src/identity/join-token/store.js';
import { stateConfigSchema } from '../src/state/config.js';
import { createStateStore } from '../src/state/create.js';
import type { StateStore } from '../src/state/types.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { startTestPostgres } from '../test/helpers/postgres.js';

/**
 * Issue #13: what a join token's first use costs on each state store, in the same
 * run. The JoinTokenStore as the SDS authenticator calls it (hash, atomic spend,
 * grant) on the memory store (the baseline) and on a real PostgreSQL over its Unix
 * socket (one UPDATE … RETURNING per use): one at a time (latency) and 32 at once
 * (throughput). Token creation is outside the timings.
 */

export interface JoinTokenCost {
  store: 'memory' | 'postgres';
  tokens: number;
  /** µs per first use, one at a time: median and 99th percentile. */
  medianUs: number;
  p99Us: number;
  /** First uses per second with 32 concurrent claimants. */
  perSecond: number;
}

const CONCURRENCY = 32;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;

async function measure(kind: JoinTokenCost['store'], state: StateStore, tokens: number): Promise<JoinTokenCost> {
  const store = new JoinTokenStore('cluster.local', systemClock, { records: state.joinTokens });
  const mint = async () =>
    Promise.all(Array.from({ length: tokens }, async (_, i) => (await store.create({ spiffeId: `spiffe://cluster.local/vm/bench-${i}`, dnsNames: [], ttlSeconds: 600 })).token));
  // Warm-up: connections opened, statements planned.
  for (const token of (await mint()).slice(0, 50)) await store.consume(token, 'warm-up');
  const samples: number[] = [];
  for (const [i, token] of (await mint()).entries()) {
    const start = process.hrtime.bigint();
    await store.consume(token, `claimant-${i}`);
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  const concurrent = await mint();
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < concurrent.length; i = next++) await store.consume(concurrent[i]!, `claimant-${i}`);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { store: kind, tokens, medianUs: quantile(samples, 0.5), p99Us: quantile(samples, 0.99), perSecond: concurrent.length / seconds };
}

export async function runJoinTokenBench(options: { tokens?: number } = {}): Promise<JoinTokenCost[]> {
  const tokens = options.tokens ?? 2000;
  const deps = { clock: systemClock, logger: silentLogger(), env: {} };
  const memory = await createStateStore(stateConfigSchema.parse({ store: 'memory' }), deps);
  const results = [await measure('memory', memory, tokens)];
  await memory.close();
  const db = await startTestPostgres();
  try {
    const database = await db.createDatabase();
    const pg = await createStateStore(stateConfigSchema.parse({ store: 'postgres', postgres: db.config(database) }), deps);
    try {
      for (let i = 0; i < 100 && !pg.health().up; i++) await new Promise((r) => setTimeout(r, 100));
      results.push(await measure('postgres', pg, tokens));
    } finally {
      await pg.close();
    }
  } finally {
    await db.close();
  }
  return results;
}

export function printJoinTokenBench(results: JoinTokenCost[]): void {
  console.log('== join token first use, per state store (same run; memory is the baseline) ==');
  const base = results[0]!;
  for (const r of results) {
    console.log(
      `${r.store.padEnd(8)} one at a time: median ${r.medianUs.toFixed(0)} µs (${(r.medianUs / base.medianUs).toFixed(1)}x), p99 ${r.p99Us.toFixed(0)} µs; ${CONCURRENCY} at once: ${r.perSecond.toFixed(0)}/s (${(r.perSecond / base.perSecond).toFixed(2)}x)  (${r.tokens} tokens)`,
    );
  }
}

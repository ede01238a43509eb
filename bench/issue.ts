import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { createDevAuthority } from '../src/app/dev-authority.js';
import type { Authority } from '../src/ca/authority.js';
import { makeCsr } from '../test/fakes/csr.js';
import fs from 'node:fs';
import { AuditLog } from '../src/audit/log.js';
import { stdoutAuditSink } from '../src/audit/sink.js';
import { systemClock } from '../src/clock.js';
import { printCsrChecksBench, runCsrChecksBench, type CsrCheckCost } from './csr-checks.js';

/**
 * Issuance throughput and latency of the real Authority, against this machine's
 * raw OpenSSL ECDSA P-256 sign rate measured in the same run.
 */

export interface IssueBenchResult {
  opensslSignPerSecPerCore: number;
  opensslVerifyPerSecPerCore: number;
  cores: number;
  serverKeyPerSec: number;
  csrPerSec: number;
  latency: { rate: number; p50Ms: number; p99Ms: number; maxMs: number; count: number };
  /** Server-key issuance with the audit log off and on (JSON lines to /dev/null), interleaved in the same run. */
  audit: { offPerSec: number; onPerSec: number };
  /** Of a CSR leaf's cost, what the key checks and canonical re-encoding take. */
  csrChecks: CsrCheckCost[];
}

/** Requests kept in flight by the load generator: enough to keep every signer busy. */
const CONCURRENCY = Number(process.env.WCA_BENCH_CONCURRENCY ?? 512);

function opensslRates(seconds = 3): { sign: number; verify: number } {
  const out = execFileSync('openssl', ['speed', '-seconds', String(seconds), 'ecdsap256'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = out.split('\n').find((l) => /256 bits ecdsa \(nistp256\)/.test(l));
  if (!line) throw new Error('cannot parse openssl speed output');
  const [sign, verify] = line.trim().split(/\s+/).slice(-2).map(Number);
  return { sign: sign!, verify: verify! };
}

export async function throughput(total: number, concurrency: number, issueOne: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) await issueOne(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return total / ((performance.now() - started) / 1000);
}

/** Open-loop load: requests start on schedule whether or not earlier ones finished. */
async function latencyAt(authority: Authority, rate: number, seconds: number) {
  const latencies: number[] = [];
  const total = rate * seconds;
  const started = performance.now();
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; sent < due; sent++) {
      const t0 = performance.now();
      inFlight.push(
        authority.issue({ spiffeId: 'spiffe://cluster.local/ns/bench/sa/latency' }).then(() => {
          latencies.push(performance.now() - t0);
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { rate, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: latencies[latencies.length - 1]!, count: latencies.length };
}

export async function runIssueBench(options: { total?: number; csrs?: number } = {}): Promise<IssueBenchResult> {
  const total = options.total ?? 60_000;
  const cores = os.availableParallelism();
  const rates = opensslRates(3);
  const authority = await createDevAuthority({ signers: cores });
  try {
    const spiffeIds = Array.from({ length: 1000 }, (_, i) => `spiffe://cluster.local/ns/bench/sa/w${i}`);
    // Warm up the workers (JIT, pooled buffers) before measuring.
    await throughput(4000, 512, (i) => authority.issue({ spiffeId: spiffeIds[i % 1000]! }));
    const serverKeyPerSec = await throughput(total, CONCURRENCY, (i) => authority.issue({ spiffeId: spiffeIds[i % 1000]! }));

    // Distinct CSRs made before timing; each is verified in full on every use.
    const csrs = Array.from({ length: options.csrs ?? 2000 }, () => makeCsr().der);
    const csrPerSec = await throughput(total, CONCURRENCY, (i) =>
      authority.issueForCsr({ spiffeId: spiffeIds[i % 1000]!, csr: csrs[i % csrs.length]! }),
    );
    const latency = await latencyAt(authority, 1000, 5);
    const audit = await auditOnOff(authority, spiffeIds, total, cores);
    const csrChecks = await runCsrChecksBench();
    return { opensslSignPerSecPerCore: rates.sign, opensslVerifyPerSecPerCore: rates.verify, cores, serverKeyPerSec, csrPerSec, latency, audit, csrChecks };
  } finally {
    await authority.close();
  }
}

/** Same load against an audited Authority and the unaudited one, alternating, best of three each. */
async function auditOnOff(off: Authority, spiffeIds: string[], total: number, cores: number): Promise<IssueBenchResult['audit']> {
  const devNull = fs.createWriteStream('/dev/null');
  const on = await createDevAuthority({ signers: cores, audit: new AuditLog({ clock: systemClock, sink: stdoutAuditSink(devNull) }) });
  try {
    const run = (a: Authority) => throughput(total / 2, CONCURRENCY, (i) => a.issue({ spiffeId: spiffeIds[i % 1000]! }));
    await run(on);
    const offRates: number[] = [];
    const onRates: number[] = [];
    for (let round = 0; round < 3; round++) {
      offRates.push(await run(off));
      onRates.push(await run(on));
    }
    return { offPerSec: Math.max(...offRates), onPerSec: Math.max(...onRates) };
  } finally {
    await on.close();
    devNull.end();
  }
}

export function printIssueBench(r: IssueBenchResult): void {
  const baseline = r.opensslSignPerSecPerCore * r.cores;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log('== issuance (Authority, ECDSA P-256 intermediate, P-256 leaves) ==');
  console.log(`openssl speed ecdsap256 sign: ${fmt(r.opensslSignPerSecPerCore)}/s per core, x${r.cores} cores = ${fmt(baseline)}/s (baseline)`);
  console.log(`server-generated key (chain PEM + PKCS#8 PEM ready): ${fmt(r.serverKeyPerSec)} certs/s  ratio to baseline ${(r.serverKeyPerSec / baseline).toFixed(3)}  target >= 10,000: ${r.serverKeyPerSec >= 10_000 ? 'PASS' : 'FAIL'}`);
  // A CSR leaf costs at least one ECDSA verify (proof of possession) and one sign.
  const csrCeiling = (r.cores * 1) / (1 / r.opensslSignPerSecPerCore + 1 / r.opensslVerifyPerSecPerCore);
  console.log(`openssl verify ecdsap256: ${fmt(r.opensslVerifyPerSecPerCore)}/s per core; raw ceiling for verify+sign on ${r.cores} cores = ${fmt(csrCeiling)}/s`);
  console.log(`CSR (parse + verify + sign):                          ${fmt(r.csrPerSec)} certs/s  ratio to baseline ${(r.csrPerSec / baseline).toFixed(3)}, to the verify+sign ceiling ${(r.csrPerSec / csrCeiling).toFixed(2)}  target >= 8,000: ${r.csrPerSec >= 8_000 ? 'PASS' : 'FAIL'}`);
  const auditCost = 1 - r.audit.onPerSec / r.audit.offPerSec;
  console.log(`audit log off ${fmt(r.audit.offPerSec)} certs/s, on ${fmt(r.audit.onPerSec)} certs/s: cost ${(auditCost * 100).toFixed(1)}%  target <= 10%: ${auditCost <= 0.1 ? 'PASS' : 'FAIL'}`);
  console.log(`latency at ${r.latency.rate} req/s open loop (${r.latency.count} requests): p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, max ${r.latency.maxMs.toFixed(2)} ms  target p99 < 5 ms: ${r.latency.p99Ms < 5 ? 'PASS' : 'FAIL'}`);
  printCsrChecksBench(r.csrChecks);
}

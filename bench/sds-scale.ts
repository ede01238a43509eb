/**
 * SDS scale benchmark: N nodes × 2 secrets (default, ROOTCA) as concurrent
 * streams from a separate process; time until every stream is served with the
 * right secret, server CPU, RSS and memory per stream, then a forced re-issue of
 * every identity (a CA rotation) and the time until every certificate stream got
 * its new one. Baseline, same run: the same clients against a gRPC server that
 * only answers with a canned secret (bench/sds-echo-server.ts).
 * `node --expose-gc --import tsx bench/sds-scale.ts [nodes] [connections]`, or call
 * runSdsScaleBench() from bench/run.ts.
 */
import 'reflect-metadata';
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createDevAuthority } from '../src/app/dev-authority.js';
import { systemClock } from '../src/clock.js';
import { rulePolicyWithBuiltins } from '../src/identity/policy/builtin.js';
import { InsecureDevAuthenticator } from '../src/identity/insecure-dev.js';
import { limits } from '../src/limits.js';
import { sdsConfigSchema } from '../src/sds/config.js';
import { startSdsServer } from '../src/sds/server.js';
import { ConvergenceTracker } from '../src/sds/convergence.js';
import type { Authority } from '../src/ca/authority.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { startEchoServer } from './sds-echo-server.js';

export interface SdsScaleResult {
  nodes: number;
  streams: number;
  connections: number;
  servedMs: number;
  /** The same clients served by the canned-answer server, same run. */
  baselineMs: number;
  baselineEventLoopCpuMs?: number;
  /** CPU (user + system, all threads incl. signers) the server spent until every stream was served. */
  serverCpuMs: number;
  /** The part of it on the main thread, the event loop that cannot use a second core (Linux only). */
  eventLoopCpuMs?: number;
  clientCpuMs: number;
  rssBeforeMiB: number;
  rssServingMiB: number;
  kibPerStream: number;
  reissuePushedMs: number;
  /** Emergency-style taint: new authority active, previous tainted, until every stream ACKed a leaf under the new one. */
  taint: { ackedMs: number; converged: number; subscribers: number; probeP99Ms: number; probeCount: number };
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(start);
  return Math.round((user + system) / 1000);
};

let clockTicks: number | undefined;

/** CPU of this process's main thread alone, from /proc; undefined where there is no /proc. */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks; // utime + stime
  } catch {
    return undefined;
  }
}

interface ClientMessage {
  type: string;
  ms?: number;
  cpuMs?: number;
  message?: string;
}

/** Forks bench/sds-scale-clients.ts against `address`; next(type) waits for that message. */
function forkClients(address: string, nodes: number, connections: number, timeoutMs: number) {
  return forkBenchChild('./sds-scale-clients.ts', [address, String(nodes), String(connections)], timeoutMs);
}

/** Forks a client script of bench/ (killed after `timeoutMs`); next(type) waits for that message, an {error} fails it. */
export function forkBenchChild(script: string, args: string[], timeoutMs: number) {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  // Queued, so a message that arrives while nobody waits (an error right after "served") is not lost.
  const inbox: ClientMessage[] = [];
  let wake: (() => void) | undefined;
  let exit: string | undefined;
  child.on('message', (message: ClientMessage) => (inbox.push(message), wake?.()));
  child.on('exit', (code, signal) => ((exit = String(signal ?? code)), wake?.()));
  return {
    async next(type: string): Promise<ClientMessage> {
      for (;;) {
        const message = inbox.shift();
        if (message?.type === type) return message;
        if (message?.type === 'error') throw new Error(`client stream failed: ${message.message}`);
        if (message) continue;
        if (exit !== undefined) throw new Error(`client process exited (${exit}) before the benchmark finished`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    send: (message: object) => child.send(message),
    async close(): Promise<void> {
      clearTimeout(timer);
      if (exit !== undefined) return;
      const gone = once(child, 'exit');
      // A child that just reported a failure may already be on its way out: then the send fails, and it exits anyway.
      child.send({ type: 'exit' }, (err) => err && child.kill('SIGKILL'));
      await gone;
    },
  };
}

async function measureBaseline(nodes: number, connections: number, timeoutMs: number) {
  const echo = await startEchoServer();
  const mainCpuBefore = mainThreadCpuMs();
  const clients = forkClients(echo.address, nodes, connections, timeoutMs);
  try {
    const served = await clients.next('served');
    const mainCpuAfter = mainThreadCpuMs();
    return {
      baselineMs: Math.round(served.ms!),
      ...(mainCpuBefore !== undefined && mainCpuAfter !== undefined ? { baselineEventLoopCpuMs: Math.round(mainCpuAfter - mainCpuBefore) } : {}),
    };
  } finally {
    await clients.close();
    echo.close();
  }
}

export async function runSdsScaleBench(options: { nodes?: number; connections?: number; timeoutMs?: number } = {}): Promise<SdsScaleResult> {
  const nodes = options.nodes ?? 5000;
  const connections = options.connections ?? 100;
  const timeoutMs = options.timeoutMs ?? 60_000;

  const logger = silentLogger();
  // 5,000 new nodes connecting at once is a burst the issuance bounds would shed (Envoy
  // retries): lift the queue bound to its ceiling and the wait bound altogether, so every
  // stream is served on its first try and the figures compare with earlier runs.
  const authority = await createDevAuthority({
    trustDomain: 'cluster.local',
    maxQueuedIssuance: limits.signQueueMax,
    maxIssuanceWaitMs: Number.POSITIVE_INFINITY,
  });
  const convergence = new ConvergenceTracker({ clock: systemClock });
  const listen = { kind: 'tcp' as const, host: '127.0.0.1', port: 0 };
  const server = await startSdsServer({
    issuer: authority,
    authenticators: [new InsecureDevAuthenticator({ profile: 'dev', trustDomain: 'cluster.local', listen, logger })],
    policy: rulePolicyWithBuiltins('cluster.local', [], 3600),
    // Every simulated Envoy connects from 127.0.0.1, all at once: lift the per-address
    // and pending caps to their ceilings.
    config: sdsConfigSchema.parse({ maxStreamsPerAddress: limits.sdsStreamsPerAddressMax, maxPendingStreams: limits.sdsPendingStreamsMax }),
    profile: 'dev',
    listen,
    logger,
    metrics: createMetrics(),
    clock: systemClock,
    convergence,
  });
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const mainCpuBefore = mainThreadCpuMs();
  const clients = forkClients(server.address, nodes, connections, timeoutMs);
  let measured: Omit<SdsScaleResult, 'baselineMs' | 'baselineEventLoopCpuMs'>;
  try {
    const served = await clients.next('served');
    const serverCpuMs = cpuMsSince(cpuBefore);
    const mainCpuAfter = mainThreadCpuMs();
    global.gc?.();
    const rssServing = process.memoryUsage().rss;
    clients.send({ type: 'arm' });
    await clients.next('armed');
    const rotateStart = performance.now();
    await authority.prepareNext();
    authority.activateNext('benchmark: forced re-issue');
    await clients.next('pushed');
    const reissuePushedMs = performance.now() - rotateStart;
    await convergence.waitForAuthority(authority.slotLifetimes().active!.id, Date.now() + 10_000);
    const taint = await measureTaint(authority, convergence);
    const streams = nodes * 2;
    measured = {
      nodes,
      streams,
      connections,
      servedMs: Math.round(served.ms!),
      serverCpuMs,
      ...(mainCpuBefore !== undefined && mainCpuAfter !== undefined ? { eventLoopCpuMs: Math.round(mainCpuAfter - mainCpuBefore) } : {}),
      clientCpuMs: Math.round(served.cpuMs!),
      rssBeforeMiB: mib(rssBefore),
      rssServingMiB: mib(rssServing),
      kibPerStream: Math.round(((rssServing - rssBefore) / streams / 1024) * 10) / 10,
      reissuePushedMs: Math.round(reissuePushedMs),
      taint,
    };
  } finally {
    await clients.close();
    await server.close();
    await authority.close();
  }
  // After, not before: the baseline's garbage must not count as the SDS server's RSS.
  // It also runs on warmed-up grpc-js code, so the ratio errs against the server.
  return { ...measured, ...(await measureBaseline(nodes, connections, timeoutMs)) };
}

/**
 * Prepare and activate a new authority, taint the previous one, and time until every
 * stream ACKed a leaf under the new one; meanwhile a probe issues one leaf every 5 ms
 * (another caller of the same signer pool) and records its latency.
 */
async function measureTaint(authority: Authority, convergence: ConvergenceTracker): Promise<SdsScaleResult['taint']> {
  const previous = authority.slotLifetimes().active!.id;
  const fresh = await authority.prepareNext(undefined, 'benchmark: taint');
  const latencies: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t0 = performance.now();
      await authority.issue({ spiffeId: 'spiffe://cluster.local/bench/probe' });
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const started = performance.now();
  authority.activate(fresh.id, 'benchmark: taint');
  authority.taint(previous, 'benchmark: taint');
  const done = await convergence.waitForAuthority(fresh.id, Date.now() + 30_000);
  const ackedMs = Math.round(performance.now() - started);
  probing = false;
  await probe;
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(0.99 * latencies.length))] ?? 0;
  return { ackedMs, converged: done.converged, subscribers: done.subscribers, probeP99Ms: Math.round(p99 * 10) / 10, probeCount: latencies.length };
}

export function printSdsScaleBench(r: SdsScaleResult): void {
  const ratio = (r.servedMs / r.baselineMs).toFixed(2);
  console.log(`SDS scale: ${r.nodes} nodes × 2 secrets = ${r.streams} streams over ${r.connections} connections (clients in a child process)`);
  const eventLoop = r.eventLoopCpuMs === undefined ? '' : ` (event loop ${r.eventLoopCpuMs} ms)`;
  console.log(`  all streams served in        ${r.servedMs} ms (target < 5000); CPU server ${r.serverCpuMs} ms${eventLoop}, clients ${r.clientCpuMs} ms`);
  const baselineLoop = r.baselineEventLoopCpuMs === undefined ? '' : ` (event loop ${r.baselineEventLoopCpuMs} ms)`;
  console.log(`  baseline, canned-answer gRPC ${r.baselineMs} ms${baselineLoop} for the same clients; ratio ${ratio}`);
  console.log(`  server RSS idle → serving    ${r.rssBeforeMiB} MiB → ${r.rssServingMiB} MiB (target < 1024)`);
  console.log(`  memory per stream            ${r.kibPerStream} KiB`);
  console.log(`  forced re-issue pushed in    ${r.reissuePushedMs} ms for ${r.nodes} identities (target < 5000)`);
  const t = r.taint;
  console.log(`  taint: ${t.converged}/${t.subscribers} streams ACKed a leaf under the new authority in ${t.ackedMs} ms (target < 2000); issuance probe p99 ${t.probeP99Ms} ms over ${t.probeCount} (target < 50)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runSdsScaleBench({ nodes: Number(process.argv[2] ?? 5000), connections: Number(process.argv[3] ?? 100) }).then(
    (result) => {
      printSdsScaleBench(result);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

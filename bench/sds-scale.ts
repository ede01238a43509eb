/**
 * SDS scale benchmark: N nodes × 2 secrets (default, ROOTCA) as concurrent
 * streams from a separate process; time until every stream is served, server
 * RSS and memory per stream, then a forced re-issue of every identity (a CA
 * rotation) and the time until every certificate stream got its new one.
 * `npx tsx bench/sds-scale.ts [nodes]`, or call runSdsScaleBench() from bench/run.ts.
 */
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createDevAuthority } from '../src/ca/dev.js';
import { systemClock } from '../src/clock.js';
import { BoundPolicy } from '../src/identity/bound-policy.js';
import { InsecureDevAuthenticator } from '../src/identity/insecure-dev.js';
import { sdsConfigSchema } from '../src/sds/config.js';
import { startSdsServer } from '../src/sds/server.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';

export interface SdsScaleResult {
  nodes: number;
  streams: number;
  servedMs: number;
  /** CPU the server process (main thread and signer threads) spent until then. */
  serverCpuMs: number;
  clientCpuMs: number;
  rssBeforeMiB: number;
  rssServingMiB: number;
  kibPerStream: number;
  reissuePushedMs: number;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

export async function runSdsScaleBench(options: { nodes?: number; timeoutMs?: number } = {}): Promise<SdsScaleResult> {
  const nodes = options.nodes ?? 5000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const logger = silentLogger();
  const authority = await createDevAuthority({ trustDomain: 'cluster.local' });
  const listen = { kind: 'tcp' as const, host: '127.0.0.1', port: 0 };
  const server = await startSdsServer({
    issuer: authority,
    authenticators: [new InsecureDevAuthenticator({ profile: 'dev', trustDomain: 'cluster.local', listen, logger })],
    policy: new BoundPolicy({ trustDomain: 'cluster.local', maxTtlSeconds: 3600 }),
    config: sdsConfigSchema.parse({}),
    profile: 'dev',
    listen,
    logger,
    metrics: createMetrics(),
    clock: systemClock,
  });
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const child = fork(fileURLToPath(new URL('./sds-scale-clients.ts', import.meta.url)), [server.address, String(nodes)], {
    execArgv: ['--import', 'tsx', ...(process.env.CLIENT_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/profc'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const next = async (type: string) => {
    for (;;) {
      const [message] = (await once(child, 'message')) as [{ type: string; ms?: number; cpuMs?: number; message?: string }];
      if (message.type === type) return message;
      if (message.type === 'error') throw new Error(`client stream failed: ${message.message}`);
    }
  };
  try {
    const cpuBefore = process.cpuUsage();
    const served = await next('served');
    const serverCpuMs = Math.round(process.cpuUsage(cpuBefore).user / 1000);
    global.gc?.();
    const rssServing = process.memoryUsage().rss;
    child.send({ type: 'arm' });
    await next('armed');
    const rotateStart = performance.now();
    await authority.prepareNext();
    authority.activateNext('benchmark: forced re-issue');
    await next('pushed');
    const reissuePushedMs = performance.now() - rotateStart;
    const streams = nodes * 2;
    return {
      nodes,
      streams,
      servedMs: Math.round(served.ms!),
      serverCpuMs,
      clientCpuMs: Math.round(served.cpuMs!),
      rssBeforeMiB: mib(rssBefore),
      rssServingMiB: mib(rssServing),
      kibPerStream: Math.round(((rssServing - rssBefore) / streams / 1024) * 10) / 10,
      reissuePushedMs: Math.round(reissuePushedMs),
    };
  } finally {
    clearTimeout(timer);
    child.send({ type: 'exit' });
    await server.close();
    await authority.close();
  }
}

export function printSdsScaleBench(r: SdsScaleResult): void {
  console.log(`SDS scale: ${r.nodes} nodes × 2 secrets = ${r.streams} streams (clients in a child process)`);
  console.log(`  all streams served in        ${r.servedMs} ms (target < 5000); CPU server ${r.serverCpuMs} ms, clients ${r.clientCpuMs} ms`);
  console.log(`  server RSS idle → serving    ${r.rssBeforeMiB} MiB → ${r.rssServingMiB} MiB (target < 1024)`);
  console.log(`  memory per stream            ${r.kibPerStream} KiB`);
  console.log(`  forced re-issue pushed in    ${r.reissuePushedMs} ms for ${r.nodes} identities (target < 5000)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runSdsScaleBench({ nodes: Number(process.argv[2] ?? 5000) }).then(
    (r) => {
      printSdsScaleBench(r);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

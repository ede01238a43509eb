import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { SimulatedEnvoy } from './envoy-fleet.js';

export const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';
export const idOf = (name: string) => `spiffe://cluster.local/ns/e2e/sa/${name}`;

export interface FleetApp {
  app: App;
  admin: AdminClient;
  dir: string;
  envoys: Map<string, SimulatedEnvoy>;
  /** A workload joins with a one-time token, as a fresh VM's Envoy would, and keeps its streams open until close(). */
  join(name: string, protocol: 'sotw' | 'delta', options?: { bundleDelayMs?: number }): Promise<SimulatedEnvoy>;
  /** "client" (SotW), "server" (Delta) and `size` more, half of each protocol; resolves once all hold a certificate and a bundle. */
  joinFleet(size: number, serverOptions?: { bundleDelayMs?: number }): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real app as production runs it (TLS SDS, join tokens, admin Unix socket),
 * on the upstream whose YAML `prepare` returns (after writing any files it needs in `dir`).
 */
export async function startFleetApp(prefix: string, prepare: (dir: string) => Promise<string>): Promise<FleetApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const upstreamYaml = await prepare(dir);
  fs.writeFileSync(
    path.join(dir, 'workload-ca.yaml'),
    [
      'profile: production',
      'trustDomain: cluster.local',
      `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
      `upstream: ${upstreamYaml}`,
      'sds: { transport: mtls }',
      'identity: { joinToken: { maxTtl: 1h, reuseWindow: 30s } }',
      'audit: { sink: none }',
      '',
    ].join('\n'),
  );
  const app = await startApp(loadConfig({ file: path.join(dir, 'workload-ca.yaml'), env: {} }), { logger: silentLogger(), env: {}, configDir: dir });
  const admin = connectAdmin(`${dir}/admin.sock`);
  const envoys = new Map<string, SimulatedEnvoy>();
  async function join(name: string, protocol: 'sotw' | 'delta', options: { bundleDelayMs?: number } = {}): Promise<SimulatedEnvoy> {
    const { token } = await admin.createJoinToken({ spiffe_id: idOf(name), dns_names: [], ttl_seconds: 600 });
    const envoy = new SimulatedEnvoy({
      address: app.addresses.sds!,
      bootstrapBundlePem: app.authority.bundle().pem,
      serverId: SERVER_ID,
      nodeId: `${name}~10.0.0.1`,
      authorization: `Bearer ${token}`,
      protocol,
      ...options,
    });
    envoys.set(name, envoy);
    return envoy;
  }
  return {
    app,
    admin,
    dir,
    envoys,
    join,
    async joinFleet(size, serverOptions) {
      const joining = [join('client', 'sotw'), join('server', 'delta', serverOptions)];
      for (let i = 0; i < size; i++) joining.push(join(`w${i}`, i % 2 ? 'delta' : 'sotw'));
      await Promise.all((await Promise.all(joining)).map((e) => e.whenReady()));
    },
    async close() {
      for (const e of envoys.values()) e.close();
      admin.close();
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

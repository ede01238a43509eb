/**
 * Issue #10, "how we will know": an emergency rotation with real SDS clients
 * connected while real mutual-TLS handshakes between two of them run. The real app
 * (production profile, disk upstream, TLS SDS, join tokens), the admin API over its
 * Unix socket as the CLI calls it, Envoy-like clients that install every push into
 * a Node TLS context before ACKing it, and OpenSSL verifying every handshake.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createTestRootCa, privateKeyPem } from '../fakes/upstream-ca.js';
import { authorityOf, coexisting, MtlsProbe, SimulatedEnvoy, startHandshakeLoop, type HandshakeLoop } from './envoy-fleet.js';

const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';
const FLEET = 50;
const idOf = (name: string) => `spiffe://cluster.local/ns/e2e/sa/${name}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let app: App;
let admin: AdminClient;
const envoys = new Map<string, SimulatedEnvoy>();

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await sleep(20);
  }
}

/** A workload joins with a one-time token, as a fresh VM's Envoy would, and keeps its streams open. */
async function join(name: string, protocol: 'sotw' | 'delta'): Promise<SimulatedEnvoy> {
  const { token } = await admin.createJoinToken({ spiffe_id: idOf(name), dns_names: [], ttl_seconds: 600 });
  const envoy = new SimulatedEnvoy({
    address: app.addresses.sds!,
    bootstrapBundlePem: app.authority.bundle().pem,
    serverId: SERVER_ID,
    nodeId: `${name}~10.0.0.1`,
    authorization: `Bearer ${token}`,
    protocol,
  });
  envoys.set(name, envoy);
  return envoy;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-e2e-rotation-'));
  const root = await createTestRootCa({ name: 'E2E Rotation Root' });
  fs.writeFileSync(path.join(dir, 'root.pem'), root.rootPem);
  fs.writeFileSync(path.join(dir, 'root.key'), await privateKeyPem(root.rootKeys), { mode: 0o600 });
  fs.writeFileSync(
    path.join(dir, 'workload-ca.yaml'),
    [
      'profile: production',
      'trustDomain: cluster.local',
      `listen: { sds: "127.0.0.1:0", http: "127.0.0.1:0", admin: "unix:${dir}/admin.sock" }`,
      `upstream: { plugin: disk, config: { certFile: ${dir}/root.pem, keyFile: ${dir}/root.key } }`,
      'sds: { transport: mtls }',
      'audit: { sink: none }',
      'identity: { joinToken: { maxTtl: 1h, reuseWindow: 30s } }',
      '',
    ].join('\n'),
  );
  app = await startApp(loadConfig({ file: path.join(dir, 'workload-ca.yaml'), env: {} }), { logger: silentLogger(), env: {}, configDir: dir });
  admin = connectAdmin(`${dir}/admin.sock`);
  const joining = [join('client', 'sotw'), join('server', 'delta')];
  for (let i = 0; i < FLEET; i++) joining.push(join(`w${i}`, i % 2 ? 'delta' : 'sotw'));
  await Promise.all((await Promise.all(joining)).map((e) => e.whenReady()));
}, 60_000);

afterAll(async () => {
  for (const e of envoys.values()) e.close();
  admin?.close();
  await app?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('emergency rotation under live mutual-TLS traffic', () => {
  let loop: HandshakeLoop;
  let before: string;
  let after: string;

  it('moves every subscriber to the new authority, reports 100% converged, and not one handshake fails', async () => {
    const fleet = [...envoys.values()];
    before = app.authority.slotLifetimes().active!.id;
    await until('the fleet ACKs its first certificates', () => app.authority.authorities().length === 1);
    const initial = await admin.getAuthorityStatus();
    expect(initial).toMatchObject({ subscribers: fleet.length, converged: fleet.length });
    for (const e of fleet) expect(e.currentAuthority()).toBe(before);

    loop = await startHandshakeLoop(envoys.get('client')!, envoys.get('server')!, { client: idOf('client'), server: idOf('server') });
    await until('handshakes before the rotation', () => loop.ok >= 10);
    const okBefore = loop.ok;

    const r = await admin.emergencyRotate({ reason: 'e2e: suspected key exposure', deadline_seconds: 20 });
    after = r.new_authority_id;
    expect(r).toMatchObject({ tainted_authority_id: before, subscribers: fleet.length, converged: fleet.length, complete: true });
    expect(after).not.toBe(before);
    // Keep shaking hands after the last ACK: a client serving the new leaf to a peer still on the old one, and the reverse.
    const okAtConvergence = loop.ok;
    await until('handshakes after the rotation', () => loop.ok >= okAtConvergence + 10);

    // Every subscriber serves a leaf under the new authority, and its chain carries that intermediate.
    for (const e of fleet) expect(e.currentAuthority()).toBe(after);
    const status = await admin.getAuthorityStatus();
    expect(status).toMatchObject({ subscribers: fleet.length, converged: fleet.length });
    const byId = new Map(status.authorities.map((a) => [a.id, a]));
    expect(byId.get(after)).toMatchObject({ state: 'active', subscribers: { sent: 0, acked: fleet.length, nacked: 0 } });
    expect(byId.get(before)).toMatchObject({ state: 'tainted', subscribers: { sent: 0, acked: 0, nacked: 0 } });

    expect(loop.failures).toEqual([]);
    expect(loop.ok).toBeGreaterThanOrEqual(20);
    // The handshakes really ran on both authorities: old↔old before, new↔new after.
    expect(loop.pairs.get(`${before}>${before}`)).toBeGreaterThan(0);
    expect(loop.pairs.get(`${after}>${after}`)).toBeGreaterThan(0);
    console.info(`handshakes: ${okBefore} before the call, ${okAtConvergence - okBefore} while it ran (${r.waited_ms} ms), ${loop.ok - okAtConvergence} after; pairs ${JSON.stringify([...loop.pairs])}`);
  }, 30_000);

  it('every pair of contexts the two Envoys served at the same moment shakes hands, whatever the loop timing', async () => {
    const pairs = coexisting(envoys.get('client')!, envoys.get('server')!);
    // At least: both old, one moved first (either), both new.
    expect(pairs.length).toBeGreaterThanOrEqual(3);
    const probe = await MtlsProbe.start({ client: idOf('client'), server: idOf('server') });
    try {
      for (const [c, s] of pairs) expect(await probe.shake(c.context, s.context)).toBe(`${c.leafAuthority}>${s.leafAuthority}`);
    } finally {
      await probe.close();
    }
  });

  it('the check can fail: a peer whose bundle lacks the root of the leaf it is shown refuses the handshake', async () => {
    // What a leaf chained to a new root, pushed before the bundle carrying that root, looks like to a peer.
    const otherRoot = await createTestRootCa({ name: 'Not Yet Trusted Root' });
    const client = envoys.get('client')!.cert!;
    const untrusting = tls.createSecureContext({ cert: client.certificateChain, key: client.privateKey, ca: otherRoot.rootPem });
    const probe = await MtlsProbe.start({ client: idOf('client'), server: idOf('server') });
    try {
      await expect(probe.shake(untrusting, envoys.get('server')!.context!)).rejects.toMatchObject({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
    } finally {
      await probe.close();
    }
  });

  it('then revokes the tainted authority: nobody holds it, the bundle stays trusted, and handshakes keep passing', async () => {
    const bundleBefore = app.authority.bundle();
    const okBefore = loop.ok;
    const status = await admin.revokeAuthority({ id: before, reason: 'e2e: exposed key', force: false, upstream: false });
    expect(status.authorities.find((a) => a.id === before)).toMatchObject({ state: 'revoked', subscribers: { sent: 0, acked: 0, nacked: 0 } });
    // The bundle holds roots only: one upstream root signs both intermediates, so it stays as it is.
    expect(app.authority.bundle()).toEqual(bundleBefore);
    expect(app.authority.intermediatesPem().join('')).not.toContain(before);
    await until('handshakes after the revocation', () => loop.ok >= okBefore + 10);
    await loop.stop();
    expect(loop.failures).toEqual([]);
    for (const e of envoys.values()) expect(authorityOf(e.leaves.at(-1)!)).toBe(after);
  }, 20_000);
});

/**
 * Emergency rotation when the upstream's root has just changed (an operator moved
 * Vault's default issuer to a new root, and the root watcher has not polled yet):
 * the new intermediate chains to a root no peer trusts yet. Trust before use says
 * every peer must have installed (ACKed) the bundle carrying it before any leaf
 * under it is served; the handshake loop and the per-Envoy push order check it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coexisting, MtlsProbe, startHandshakeLoop } from './envoy-fleet.js';
import { idOf, startFleetApp, until, type FleetApp } from './fleet-app.js';

const plugin = path.resolve(import.meta.dirname, '../fixtures/upstream/root-switch-plugin.ts');
const FLEET = 10;
let fleet: FleetApp;
let switchFile: string;

beforeAll(async () => {
  fleet = await startFleetApp('wca-e2e-newroot-', async (dir) => {
    switchFile = path.join(dir, 'switched');
    // The watcher polls hourly: only the rotation itself can bring the new root in.
    return `{ plugin: ${JSON.stringify(plugin)}, rootPollInterval: 1h, config: { switchFile: ${JSON.stringify(switchFile)} } }`;
  });
  // The server's Envoy is busy: it applies bundle pushes 500 ms late. A leaf under the new root
  // handed to the client before the server ACKed the new bundle fails the server's check of the client.
  await fleet.joinFleet(FLEET, { bundleDelayMs: 500 });
}, 60_000);

afterAll(async () => {
  await fleet?.close();
});

describe('emergency rotation onto an intermediate under a new root', () => {
  it('every Envoy installs the bundle with the new root before any leaf under it is served, and no handshake fails', async () => {
    const all = [...fleet.envoys.values()];
    const oldRoots = fleet.app.authority.rootsOf('active');
    const loop = await startHandshakeLoop(fleet.envoys.get('client')!, fleet.envoys.get('server')!, { client: idOf('client'), server: idOf('server') });
    await until('handshakes before the rotation', () => loop.ok >= 10);

    fs.writeFileSync(switchFile, '');
    const r = await fleet.admin.emergencyRotate({ reason: 'e2e: root moved and key exposed', deadline_seconds: 20 });
    expect(r).toMatchObject({ subscribers: all.length, converged: all.length, complete: true });
    const newRoot = fleet.app.authority.rootsOf('active')[0]!.trim();
    expect(oldRoots.map((p) => p.trim())).not.toContain(newRoot);

    const okAtConvergence = loop.ok;
    await until('handshakes after the rotation', () => loop.ok >= okAtConvergence + 10);
    await loop.stop();
    expect(loop.failures).toEqual([]);

    // Every pair of contexts client and server served at the same moment shakes hands, whatever the loop's timing.
    const probe = await MtlsProbe.start({ client: idOf('client'), server: idOf('server') });
    try {
      for (const [c, s] of coexisting(fleet.envoys.get('client')!, fleet.envoys.get('server')!)) {
        expect(await probe.shake(c.context, s.context)).toBe(`${c.leafAuthority}>${s.leafAuthority}`);
      }
    } finally {
      await probe.close();
    }

    // Trust before use, per subscriber and across them: the last Envoy to install the
    // bundle carrying the new root did so before the first leaf under it was installed anywhere.
    const bundleInstalled = all.map((e) => e.installed.find((i) => i.bundlePem.includes(newRoot))?.seq ?? Infinity);
    const firstNewLeaf = all.map((e) => e.installed.find((i) => i.leafAuthority === r.new_authority_id)?.seq ?? -Infinity);
    expect(Math.max(...bundleInstalled)).toBeLessThan(Math.min(...firstNewLeaf));
    for (const e of all) expect(e.currentAuthority()).toBe(r.new_authority_id);
  }, 30_000);
});

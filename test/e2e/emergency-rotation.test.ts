/**
 * Issue #10, "how we will know": an emergency rotation with real SDS clients
 * connected while real mutual-TLS handshakes between two of them run. The real app
 * (production profile, disk upstream, TLS SDS, join tokens), the admin API over its
 * Unix socket as the CLI calls it, Envoy-like clients that install every push into
 * a Node TLS context before ACKing it, and OpenSSL verifying every handshake.
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRootCa, privateKeyPem } from '../fakes/upstream-ca.js';
import { authorityOf, coexisting, MtlsProbe, startHandshakeLoop, type HandshakeLoop } from './envoy-fleet.js';
import { idOf, startFleetApp, until, type FleetApp } from './fleet-app.js';

const FLEET = 50;
let fleet: FleetApp;

beforeAll(async () => {
  fleet = await startFleetApp('wca-e2e-rotation-', async (dir) => {
    const root = await createTestRootCa({ name: 'E2E Rotation Root' });
    fs.writeFileSync(path.join(dir, 'root.pem'), root.rootPem);
    fs.writeFileSync(path.join(dir, 'root.key'), await privateKeyPem(root.rootKeys), { mode: 0o600 });
    return `{ plugin: disk, config: { certFile: ${dir}/root.pem, keyFile: ${dir}/root.key } }`;
  });
  await fleet.joinFleet(FLEET);
}, 60_000);

afterAll(async () => {
  await fleet?.close();
});

describe('emergency rotation under live mutual-TLS traffic', () => {
  let loop: HandshakeLoop;
  let before: string;
  let after: string;

  it('moves every subscriber to the new authority, reports 100% converged, and not one handshake fails', async () => {
    const all = [...fleet.envoys.values()];
    before = fleet.app.authority.slotLifetimes().active!.id;
    // Installed is not yet ACKed: wait until the CA has heard every ACK.
    await until('the fleet ACKs its first certificates', async () => (await fleet.admin.getAuthorityStatus()).converged === all.length);
    expect(fleet.app.authority.authorities().map((a) => a.state)).toEqual(['active']);
    for (const e of all) expect(e.currentAuthority()).toBe(before);

    loop = await startHandshakeLoop(fleet.envoys.get('client')!, fleet.envoys.get('server')!, { client: idOf('client'), server: idOf('server') });
    await until('handshakes before the rotation', () => loop.ok >= 10);
    const okBefore = loop.ok;

    const r = await fleet.admin.emergencyRotate({ reason: 'e2e: suspected key exposure', deadline_seconds: 20 });
    after = r.new_authority_id;
    expect(r).toMatchObject({ tainted_authority_id: before, subscribers: all.length, converged: all.length, complete: true });
    expect(after).not.toBe(before);
    // And on after the last ACK, both sides on the new authority.
    const okAtConvergence = loop.ok;
    await until('handshakes after the rotation', () => loop.ok >= okAtConvergence + 10);

    // Every subscriber serves a leaf under the new authority (the AKI of the leaf it holds).
    for (const e of all) expect(e.currentAuthority()).toBe(after);
    const status = await fleet.admin.getAuthorityStatus();
    expect(status).toMatchObject({ subscribers: all.length, converged: all.length, bundle_subscribers: all.length, bundle_acked: all.length });
    const byId = new Map(status.authorities.map((a) => [a.id, a]));
    expect(byId.get(after)).toMatchObject({ state: 'active', subscribers: { sent: 0, acked: all.length, nacked: 0 } });
    expect(byId.get(before)).toMatchObject({ state: 'tainted', subscribers: { sent: 0, acked: 0, nacked: 0 } });

    expect(loop.failures).toEqual([]);
    expect(loop.ok).toBeGreaterThanOrEqual(20);
    // The handshakes really ran on both authorities: old↔old before, new↔new after.
    expect(loop.pairs.get(`${before}>${before}`)).toBeGreaterThan(0);
    expect(loop.pairs.get(`${after}>${after}`)).toBeGreaterThan(0);
    console.info(`handshakes: ${okBefore} before the call, ${okAtConvergence - okBefore} while it ran (${r.waited_ms} ms), ${loop.ok - okAtConvergence} after; pairs ${JSON.stringify([...loop.pairs])}`);
  }, 30_000);

  it('every pair of contexts the two Envoys served at the same moment shakes hands, whatever the loop timing', async () => {
    const pairs = coexisting(fleet.envoys.get('client')!, fleet.envoys.get('server')!);
    // At least: both old, one moved first (either), both new.
    expect(pairs.length).toBeGreaterThanOrEqual(3);
    expect(pairs.some(([c, s]) => c.leafAuthority !== s.leafAuthority)).toBe(true);
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
    const client = fleet.envoys.get('client')!.cert!;
    const untrusting = tls.createSecureContext({ cert: client.certificateChain, key: client.privateKey, ca: otherRoot.rootPem });
    const probe = await MtlsProbe.start({ client: idOf('client'), server: idOf('server') });
    try {
      await expect(probe.shake(untrusting, fleet.envoys.get('server')!.context!)).rejects.toMatchObject({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
    } finally {
      await probe.close();
    }
  });

  it('then revokes the tainted authority: nobody holds it, the bundle stays trusted, and handshakes keep passing', async () => {
    const bundleBefore = fleet.app.authority.bundle();
    const okBefore = loop.ok;
    const status = await fleet.admin.revokeAuthority({ id: before, reason: 'e2e: exposed key', force: false, upstream: false });
    expect(status.authorities.find((a) => a.id === before)).toMatchObject({ state: 'revoked', subscribers: { sent: 0, acked: 0, nacked: 0 } });
    // The bundle holds roots only: one upstream root signs both intermediates, so it stays as it is.
    expect(fleet.app.authority.bundle()).toEqual(bundleBefore);
    expect(fleet.app.authority.intermediatesPem().join('')).not.toContain(before);
    await until('handshakes after the revocation', () => loop.ok >= okBefore + 10);
    await loop.stop();
    expect(loop.failures).toEqual([]);
    for (const e of fleet.envoys.values()) expect(authorityOf(e.leaves.at(-1)!)).toBe(after);
  }, 20_000);
});

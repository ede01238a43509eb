/**
 * Two real replicas (startApp twice: one disk upstream root, one real PostgreSQL):
 * a join token minted on A is spent on B, once for the whole fleet; with the
 * database stopped, join tokens are refused with UNAVAILABLE while mTLS renewal
 * keeps working, readiness and the metric say why; after a restart tokens work again.
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { authorityTable } from '../../src/cli/commands/authority.js';
import { loadConfig } from '../../src/config/load.js';
import { isWcaError } from '../../src/errors.js';
import { createLogger, silentLogger } from '../../src/telemetry/logger.js';
import { SdsTestClient, type FetchedSvid } from '../identity/sds-client.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { hasTools } from '../helpers/tools.js';
import { createSite, type Site } from '../reliability/replicas.js';

const SERVER_ID = 'spiffe://cluster.local/workload-ca/sds';

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('two replicas sharing one PostgreSQL', () => {
  let db: TestPostgres;
  let dir: string;
  let site: Site;
  const apps: App[] = [];
  const admins: AdminClient[] = [];
  const clients: SdsTestClient[] = [];

  beforeAll(async () => {
    db = await startTestPostgres();
    database = await db.createDatabase();
    site = await createSite('wca-replicas-');
    dir = site.dir;
    for (const name of ['a', 'b']) await startReplica(name);
  }, 60_000);

  let database: string;
  async function startReplica(name: string, logger = silentLogger()): Promise<App> {
    {
      const file = site.config(name, { db, database });
      const app = await startApp(loadConfig({ file, env: {} }), { logger, env: {}, configDir: dir, replicaId: `replica-${name}` });
      apps.push(app);
      admins.push(connectAdmin(app.addresses.admin!.slice('unix:'.length)));
      return app;
    }
  }

  afterAll(async () => {
    clients.forEach((c) => c.close());
    admins.forEach((a) => a.close());
    await Promise.all(apps.map((a) => a.close()));
    await db?.close();
    site?.close();
  });

  const [A, B] = [0, 1];
  const client = (replica: number, identity?: FetchedSvid) => {
    const c = new SdsTestClient(apps[replica]!.addresses.sds!, apps[replica]!.authority.bundle().pem, SERVER_ID, identity);
    clients.push(c);
    return c;
  };
  const tokenOn = async (replica: number, name: string) =>
    (await admins[replica]!.createJoinToken({ spiffe_id: `spiffe://cluster.local/vm/${name}`, dns_names: [], ttl_seconds: 600 })).token;
  const grpcCode = (err: unknown) => (err as { code?: number }).code;
  const http = async (replica: number, route: string) => {
    const res = await fetch(`http://${apps[replica]!.addresses.http}${route}`);
    return { status: res.status, body: await res.text() };
  };

  it('a token minted on A is spent by a machine on B, and is then used up on A as well', async () => {
    const token = await tokenOn(A, 'db-1');
    const svid = await client(B).fetch('default', `Bearer ${token}`, 'vm-db-1');
    expect(svid.spiffeIds).toEqual(['spiffe://cluster.local/vm/db-1']);
    const err = await client(A).fetch('default', `Bearer ${token}`, 'vm-db-1').catch((e: unknown) => e);
    expect(grpcCode(err)).toBe(16); // UNAUTHENTICATED: already used, by another replica
  });

  it('a machine joined on B renews over mTLS on A (B’s intermediates reach A through the store)', async () => {
    const svid = await client(B).fetch('default', `Bearer ${await tokenOn(A, 'app-1')}`, 'vm-app-1');
    await expect
      .poll(async () => (await client(A, svid).fetch('default', undefined, 'vm-app-1').catch((e: unknown) => e as Error)), { timeout: 15_000, interval: 200 })
      .toMatchObject({ spiffeIds: ['spiffe://cluster.local/vm/app-1'] });
  });

  it('an emergency rotation asked of A re-keys B too; a taint of B’s authority asked of A is applied by B', async () => {
    const activeOn = (replica: number) => apps[replica]!.authority.authorities().find((x) => x.state === 'active')!.id;
    const before = activeOn(B);
    const done = await admins[A]!.emergencyRotate({ reason: 'drill', deadline_seconds: 1 });
    expect(done.new_authority_id).toBe(activeOn(A));
    await expect.poll(() => activeOn(B), { timeout: 15_000 }).not.toBe(before);
    expect(apps[B]!.authority.authorities().find((x) => x.id === before)).toMatchObject({ state: 'tainted', reason: expect.stringMatching(/^emergency: fleet action \d+ from replica-a: drill$/) });

    // B's authorities, moved through A's socket (A holds neither): the active one cannot be tainted; the tainted one is revoked by B.
    const bNow = activeOn(B);
    await expect.poll(async () => (await apps[A]!.state.replicas.live()).find((r) => r.replicaId === 'replica-b')?.status.authorities, { timeout: 10_000 })
      .toEqual(expect.arrayContaining([expect.objectContaining({ id: bNow, state: 'active' }), expect.objectContaining({ id: before, state: 'tainted' })]));
    const refused = await admins[A]!.taintAuthority({ id: bNow, reason: 'suspected' }).catch((e: unknown) => e);
    expect(isWcaError(refused, 'ERR_AUTHORITY_TRANSITION')).toBe(true);
    expect((refused as { details: { reason: string } }).details.reason).toBe('not-old');
    await admins[A]!.revokeAuthority({ id: before, reason: 'drill over', force: false, upstream: false });
    await expect.poll(() => apps[B]!.authority.authorities().find((x) => x.id === before)?.state, { timeout: 15_000 }).toBe('revoked');
    // That a replica started afterwards does not replay these actions is the file's last case.
    // An authority no replica holds is still not found.
    const unknown = await admins[A]!.taintAuthority({ id: 'ab'.repeat(20), reason: 'typo' }).catch((e: unknown) => e);
    expect(isWcaError(unknown, 'ERR_AUTHORITY_NOT_FOUND')).toBe(true);
  }, 60_000);

  it('authority show on either replica lists every replica with its own active authority and subscribers', async () => {
    const activeOn = (replica: number) => apps[replica]!.authority.authorities().find((x) => x.state === 'active')!.id;
    await expect
      .poll(async () => (await admins[B]!.getAuthorityStatus()).replicas?.map((r) => [r.replica_id, r.authorities.find((x) => x.state === 'active')?.id]), { timeout: 10_000 })
      .toEqual([['replica-a', activeOn(A)], ['replica-b', activeOn(B)]]);
    const text = authorityTable(await admins[A]!.getAuthorityStatus());
    expect(text).toMatch(/^replica-a +[0-9a-f]+ +\d+ /m);
    expect(text).toMatch(/^fleet: \d+ subscribers/m);
  });

  it('lists both replicas as live', async () => {
    await expect.poll(async () => (await apps[A]!.state.replicas.live()).map((r) => r.replicaId), { timeout: 10_000 }).toEqual(['replica-a', 'replica-b']);
    const [a] = await apps[B]!.state.replicas.live();
    expect(a!.status.authorities).toEqual(expect.arrayContaining([expect.objectContaining({ state: 'active' })]));
  });

  it('an SVID under an authority tainted by an emergency rotation renews on neither replica (UNAUTHENTICATED, authority-tainted)', async () => {
    const svid = await client(B).fetch('default', `Bearer ${await tokenOn(A, 'tainted-1')}`, 'vm-tainted-1');
    await expect
      .poll(async () => (await client(A, svid).fetch('default', undefined, 'vm-tainted-1').catch(() => undefined))?.spiffeIds, { timeout: 15_000, interval: 200 })
      .toEqual(['spiffe://cluster.local/vm/tainted-1']);
    await admins[B]!.emergencyRotate({ reason: 'suspected key compromise', deadline_seconds: 1 });
    // B refuses at once; A once B's next heartbeat says the authority is tainted (it no longer lists it as usable).
    const refusal = async (replica: number) => {
      const err = await client(replica, svid).fetch('default', undefined, 'vm-tainted-1').then(() => undefined, (e: unknown) => e as Error);
      return err && { code: grpcCode(err), tainted: /tainted workload-ca intermediate/.test(err.message) };
    };
    expect(await refusal(B)).toEqual({ code: 16, tainted: true });
    await expect.poll(() => refusal(A), { timeout: 15_000, interval: 200 }).toEqual({ code: 16, tainted: true });
    // A fresh credential still joins, and its SVID (under the new authority) renews on the other replica.
    const fresh = await client(B).fetch('default', `Bearer ${await tokenOn(A, 'tainted-2')}`, 'vm-tainted-2');
    await expect
      .poll(async () => (await client(A, fresh).fetch('default', undefined, 'vm-tainted-2').catch(() => undefined))?.spiffeIds, { timeout: 15_000, interval: 200 })
      .toEqual(['spiffe://cluster.local/vm/tainted-2']);
  }, 60_000);

  it('a forged heartbeat row whose status is JSON null is skipped: authority show still lists every replica, peer trust still refreshes', async () => {
    const sql = new pg.Client(db.config(database));
    await sql.connect();
    try {
      await sql.query(`INSERT INTO wca_replicas VALUES ('aaa-ghost', 'null'::jsonb, now(), now() + interval '1 day')`);
      const listed = async () => (await admins[B]!.getAuthorityStatus()).replicas?.map((r) => r.replica_id);
      expect(await listed()).toEqual(['replica-a', 'replica-b']);
      // A's new intermediate reaches B only through heartbeats B reads while the ghost row is there.
      await admins[A]!.emergencyRotate({ reason: 'drill', deadline_seconds: 1 });
      const svid = await client(A).fetch('default', `Bearer ${await tokenOn(A, 'ghost-1')}`, 'vm-ghost-1');
      await expect
        .poll(async () => (await client(B, svid).fetch('default', undefined, 'vm-ghost-1').catch(() => undefined))?.spiffeIds, { timeout: 15_000, interval: 200 })
        .toEqual(['spiffe://cluster.local/vm/ghost-1']);
    } finally {
      await sql.query(`DELETE FROM wca_replicas WHERE replica_id = 'aaa-ghost'`);
      await sql.end();
    }
  }, 60_000);

  it('database down: join tokens UNAVAILABLE, mTLS renewal still served, readiness and metric report it; back: tokens work again', async () => {
    const renewing = await client(B).fetch('default', `Bearer ${await tokenOn(A, 'web-1')}`, 'vm-web-1');
    const pending = await tokenOn(A, 'web-2');
    // A learns B's intermediates from B's heartbeat, and renews B's SVIDs.
    await expect
      .poll(async () => (await client(A, renewing).fetch('default', undefined, 'vm-web-1').catch(() => undefined))?.spiffeIds, { timeout: 15_000, interval: 200 })
      .toEqual(['spiffe://cluster.local/vm/web-1']);
    await db.stop();
    try {
      // The first call finds the connection gone; after that the store is known down and answers at once.
      await client(B).fetch('default', `Bearer ${pending}`, 'vm-web-2').catch(() => undefined);
      const started = Date.now();
      const refused = await client(B).fetch('default', `Bearer ${pending}`, 'vm-web-2').catch((e: unknown) => e);
      expect(grpcCode(refused)).toBe(14); // UNAVAILABLE
      expect((refused as Error).message).toMatch(/shared state store unavailable \(consume join token: down\)/);
      // Where the database lives is nobody's business on the SDS port.
      expect((refused as Error).message).not.toContain(db.socketDir);
      expect(Date.now() - started).toBeLessThan(5_000);

      // Renewal over mTLS needs no shared state: served by the replica that signed the SVID and by the other one.
      for (const replica of [B, A]) {
        const renewed = await client(replica, renewing).fetch('default', undefined, 'vm-web-1');
        expect(renewed.spiffeIds).toEqual(['spiffe://cluster.local/vm/web-1']);
      }

      const created = await admins[A]!.createJoinToken({ spiffe_id: 'spiffe://cluster.local/vm/x', dns_names: [], ttl_seconds: 60 }).catch((e: unknown) => e);
      expect(isWcaError(created, 'ERR_STATE_STORE_UNAVAILABLE')).toBe(true);

      const ready = await http(B, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatch(/^ready, degraded: .*shared state store unreachable/);
      await expect.poll(async () => (await http(B, '/metrics')).body.match(/^wca_state_store_up (\d)/m)?.[1], { timeout: 10_000 }).toBe('0');
    } finally {
      await db.start();
    }
    await expect.poll(() => apps[B]!.state.health().up, { timeout: 20_000, interval: 100 }).toBe(true);
    const joined = await client(B).fetch('default', `Bearer ${pending}`, 'vm-web-2');
    expect(joined.spiffeIds).toEqual(['spiffe://cluster.local/vm/web-2']);
    expect((await http(B, '/readyz')).body).toBe('ready\n');
  }, 60_000);

  // Last, so that no case after it waits for the third replica's membership row to lapse; by now the log holds every
  // action above (emergency rotations from A and B, a taint, a revoke), none of them for this replica's intermediates.
  it('a replica started after fleet actions does not replay the log: they were for the intermediates of their time', async () => {
    const lines: string[] = [];
    const late = await startReplica('c', createLogger({ level: 'warn', destination: new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).split('\n').filter(Boolean)), done()) }) }));
    // Instead of a window of time: a marker for C alone, which C logs as it handles it (a taint of its active authority is
    // refused; with history replayed, applied to what is then old). C handles actions one at a time in log order, so by then
    // it has applied whatever older action it replays. C subscribes shortly after it starts: a marker appended before that
    // is history to it too, so another is appended until one is handled.
    const handled = (seq: string) => lines.some((l) => (JSON.parse(l) as { fleetAction?: string }).fleetAction === seq);
    const deadline = Date.now() + 20_000;
    for (let seen = false; !seen; ) {
      expect(Date.now()).toBeLessThan(deadline);
      const marker = await late.state.actions.append({ action: 'taint', authorityId: late.authority.authorities()[0]!.id, reason: 'marker', by: 'test', origin: 'replica-a', target: 'replica-c' });
      seen = await expect.poll(() => handled(marker.seq), { timeout: 1_000, interval: 20 }).toBe(true).then(() => true, () => false);
    }
    expect(late.authority.authorities().map((x) => x.state)).toEqual(['active']);
  }, 60_000);
});

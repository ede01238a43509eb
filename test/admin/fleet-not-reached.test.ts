/**
 * Issue #13 finding 3: a fleet-wide `rotate --emergency` whose actions-log append failed
 * exited 0 with `COMPLETE yes`; only the server log said the other replicas were not
 * reached. Real PostgreSQL, stopped: the rotation here stands, the answer says
 * `fleet_reached: false` with the store's error, the table prints a NOT SENT line and
 * the CLI exits 1 (ERR_FLEET_NOT_REACHED).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, type AdminClient } from '../../src/admin/client.js';
import { FleetActions } from '../../src/admin/fleet.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { AuditLog } from '../../src/audit/log.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { ExitCode } from '../../src/errors.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { createPostgresStore } from '../../src/state/postgres/store.js';
import type { StateStore } from '../../src/state/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { runMain } from '../cli/in-process.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { hasTools } from '../helpers/tools.js';
import { postgresConfig } from '../state/postgres-config.js';

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('fleet-wide emergency rotation with the store down', () => {
  let server: TestPostgres;
  let store: StateStore;
  let dir: string;
  let admin: AdminServer;
  let client: AdminClient;
  let authority: Authority;
  let fleet: FleetActions;
  const logger = silentLogger();

  beforeAll(async () => {
    const audit = new AuditLog({ clock: systemClock });
    // The server and the authority start side by side (neither needs the other); whichever started is closed in afterAll.
    const [started, created] = await Promise.allSettled([startTestPostgres(), createDevAuthority({ audit, signers: 1 })]);
    if (started.status === 'fulfilled') server = started.value;
    if (created.status === 'fulfilled') authority = created.value;
    for (const r of [started, created]) if (r.status === 'rejected') throw r.reason;
    store = await createPostgresStore(postgresConfig(server.config(await server.createDatabase())), { clock: systemClock, logger, env: {} });
    dir = await mkdtemp(path.join(os.tmpdir(), 'wca-fleet-not-reached-'));
    const deps = { authority, convergence: new ConvergenceTracker({ clock: systemClock }), audit, upstream: { name: 'self-signed' }, clock: systemClock, logger };
    fleet = new FleetActions({ store, replicaId: 'replica-a', authority: deps });
    admin = await startAdminServer({
      joinTokens: new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 }),
      logger,
      listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
      audit,
      authority: deps,
      fleet,
      replicaId: 'replica-a',
    });
    client = connectAdmin(admin.path);
  }, 30_000);
  afterAll(async () => {
    client?.close();
    await admin?.close();
    await authority?.close();
    await store?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runMain(...args, '--admin-socket', `unix:${admin.path}`);
  const active = () => authority.authorities().find((a) => a.state === 'active')!.id;

  it('reached: fleet_reached true with the seq, exit 0', async () => {
    const r = await client.emergencyRotate({ reason: 'drill', deadline_seconds: 1 });
    expect(r).toMatchObject({ fleet_reached: true, fleet_problem: '' });
    expect(r.fleet_action_seq).toMatch(/^\d+$/);
  });

  it('not reached: this replica rotates, the answer and the exit code say the others were not told', async () => {
    await server.stop();
    const before = active();
    const json = await cli('rotate', '--emergency', '--reason', 'drill', '--deadline', '1s', '-o', 'json');
    expect(json.code).toBe(ExitCode.FAILURE);
    const answer = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({ fleet_reached: false, fleet_action_seq: '', tainted_authority_id: before });
    expect(answer.fleet_problem).toMatch(/^ERR_STATE_STORE_UNAVAILABLE: /);
    expect(json.stderr).toContain('the other replicas were NOT told');
    expect(active()).not.toBe(before);

    const table = await cli('rotate', '--emergency', '--reason', 'drill', '--deadline', '1s');
    expect(table.code).toBe(ExitCode.FAILURE);
    expect(table.stdout).toMatch(/^NOT SENT to the other replicas \(ERR_STATE_STORE_UNAVAILABLE: /m);
  });
});

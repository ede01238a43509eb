/**
 * Issue #13: `--replica` narrows a fleet admin command to one replica. Two real
 * replicas (in-process apps, one disk upstream root, one real PostgreSQL), driven
 * through the CLI (`main()` in this process) on replica A's admin socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorityStatus } from '../../src/admin/authority-proto.js';
import { ExitCode, isWcaError } from '../../src/errors.js';
import { runMain } from '../cli/in-process.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { hasTools } from '../helpers/tools.js';
import { createSite, startInProcess, until, type InProcessReplica, type Site } from './replicas.js';

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('--replica on two replicas sharing one PostgreSQL', () => {
  let db: TestPostgres;
  let site: Site;
  let A: InProcessReplica;
  let B: InProcessReplica;

  beforeAll(async () => {
    db = await startTestPostgres();
    const database = await db.createDatabase();
    site = await createSite('wca-rel-target-');
    [A, B] = await Promise.all(['a', 'b'].map((name) => startInProcess(site.config(name, { db, database }), `replica-${name}`))) as [InProcessReplica, InProcessReplica];
    await until('both replicas are live', async () => (await A.app.state.replicas.live()).length === 2);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([A?.close(), B?.close()]);
    await db?.close();
    site?.close();
  });

  /** `workload-ca <args>` against replica A's admin socket. */
  const onA = (...args: string[]) => runMain(...args, '--admin-socket', A.app.addresses.admin!);
  const json = async (...args: string[]) => {
    const r = await onA(...args, '-o', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(ExitCode.OK);
    return JSON.parse(r.stdout);
  };
  const active = (r: InProcessReplica) => r.app.authority.authorities().find((x) => x.state === 'active')!;
  const stateOf = (r: InProcessReplica, id: string) => r.app.authority.authorities().find((x) => x.id === id)?.state;
  const lastSeq = () => A.app.state.actions.latestSeq();
  const refusal = (err: unknown) => (isWcaError(err) ? { code: err.code, reason: err.details.reason } : err);
  /** An old authority on `r`: a planned rotation there (prepare, activate). */
  const oldOn = async (r: InProcessReplica) => {
    const previous = active(r).id;
    const prepared = (await r.admin.prepareAuthority({ reason: 'planned' })).authorities.find((x) => x.state === 'prepared')!.id;
    await r.admin.activateAuthority({ id: prepared, reason: 'planned' });
    return previous;
  };

  it("authority show --replica: another replica's status from its heartbeat alone; this replica's own in full, without the fleet", async () => {
    const fleet: AuthorityStatus = await json('authority', 'show');
    expect(fleet.replica).toBe('replica-a');
    expect(fleet.replicas!.map((r) => r.replica_id)).toEqual(['replica-a', 'replica-b']);

    const b: AuthorityStatus = await json('authority', 'show', '--replica', 'replica-b');
    expect(b.replica).toBe('replica-b');
    expect(b.replicas!.map((r) => r.replica_id)).toEqual(['replica-b']);
    expect(b.authorities.map((x) => x.id)).toContain(active(B).id);
    expect(b.authorities.map((x) => x.id)).not.toContain(active(A).id);

    const a: AuthorityStatus = await json('authority', 'show', '--replica', 'replica-a');
    expect(a).toMatchObject({ replica: 'replica-a', replicas: [] });
    expect(a.authorities.find((x) => x.state === 'active')!.id).toBe(active(A).id);
  });

  it('rotate --emergency --replica <another>: sent to it alone; it re-keys, this replica keeps its active authority', async () => {
    const before = { a: active(A).id, b: active(B).id };
    const r = await json('rotate', '--emergency', '--reason', 'suspect key on b', '--replica', 'replica-b');
    expect(r).toMatchObject({ replica: 'replica-b', sent: true, new_authority_id: '' });
    await until('B rotates', () => active(B).id !== before.b);
    expect(active(B).reason).toContain(`fleet action ${r.fleet_action_seq} from replica-a: suspect key on b`);
    expect(stateOf(B, before.b)).toBe('tainted');
    expect(active(A).id).toBe(before.a);

    const rotated = active(B).id;
    const table = await onA('rotate', '--emergency', '--reason', 'again', '--replica', 'replica-b');
    expect(table.code).toBe(ExitCode.OK);
    expect(table.stdout).toMatch(/^sent to replica replica-b \(fleet action \d+\); follow it with "authority show --replica replica-b"\n$/);
    await until('B rotates again', () => active(B).id !== rotated);
    expect(active(A).id).toBe(before.a);
  });

  it('an action for one replica is passed over by every other (a third replica asked, as any operator tool appends it)', async () => {
    const before = { a: active(A).id, b: active(B).id };
    const taintedOnA = () => A.app.authority.authorities().filter((x) => x.state === 'tainted').length;
    const tainted = taintedOnA();
    const forB = await A.app.state.actions.append({ action: 'emergency-rotate', authorityId: '', reason: 'for b', by: 'ops', origin: 'replica-c', target: 'replica-b' });
    const forA = await A.app.state.actions.append({ action: 'emergency-rotate', authorityId: '', reason: 'for a', by: 'ops', origin: 'replica-c', target: 'replica-a' });
    await until('A applies the one for it', () => active(A).reason.includes(`fleet action ${forA.seq} `));
    await until('B applies the one for it', () => active(B).reason.includes(`fleet action ${forB.seq} `));
    // Each applies its log in order: had A applied the one for B, it would have rotated twice.
    expect(taintedOnA()).toBe(tainted + 1);
    expect(stateOf(A, before.a)).toBe('tainted');
    expect(stateOf(B, before.b)).toBe('tainted');
  });

  it("rotate --emergency --replica <this one>: re-keys here alone, nothing goes in the actions log", async () => {
    const before = { a: active(A).id, b: active(B).id, seq: await lastSeq() };
    const r = await json('rotate', '--emergency', '--reason', 'local only', '--deadline', '1s', '--replica', 'replica-a');
    expect(r).toMatchObject({ replica: 'replica-a', sent: false, fleet_action_seq: '', tainted_authority_id: before.a, new_authority_id: active(A).id });
    expect(active(A).id).not.toBe(before.a);
    expect(await lastSeq()).toBe(before.seq);
    expect(active(B).id).toBe(before.b);
  });

  it('an unknown replica: NOT_FOUND (ERR_REPLICA_NOT_FOUND, unknown-replica), exit 2, naming it and the live ones; nothing changes or is sent', async () => {
    const before = { a: active(A).id, b: active(B).id, seq: await lastSeq() };
    const r = await onA('rotate', '--emergency', '--reason', 'typo', '--replica', 'replica-z');
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('replica replica-z is not live');
    expect(r.stderr).toContain('live replicas: replica-a, replica-b');
    const err = await A.admin.emergencyRotate({ reason: 'typo', deadline_seconds: 1, replica: 'replica-z' }).catch((e: unknown) => e);
    expect(refusal(err)).toEqual({ code: 'ERR_REPLICA_NOT_FOUND', reason: 'unknown-replica' });
    expect((await onA('authority', 'show', '--replica', 'replica-z')).code).toBe(ExitCode.USAGE);
    expect({ a: active(A).id, b: active(B).id, seq: await lastSeq() }).toEqual(before);
  });

  it('taint --replica <not the holder> is refused (not-on-replica, exit 2) and changes nothing; --replica <the holder> sends it there', async () => {
    const oldA = await oldOn(A);
    const seq = await lastSeq();
    const wrong = await onA('authority', 'taint', oldA, '--reason', 'wrong replica', '--replica', 'replica-b');
    expect(wrong.code).toBe(ExitCode.USAGE);
    expect(wrong.stderr).toContain(`no authority ${oldA} on replica replica-b (replica replica-a holds it`);
    const err = await A.admin.taintAuthority({ id: oldA, reason: 'wrong replica', replica: 'replica-b' }).catch((e: unknown) => e);
    expect(refusal(err)).toEqual({ code: 'ERR_AUTHORITY_NOT_FOUND', reason: 'not-on-replica' });
    expect(stateOf(A, oldA)).toBe('old');
    expect(await lastSeq()).toBe(seq);

    const oldB = await oldOn(B);
    await until("B's heartbeat shows its old authority", async () =>
      (await A.admin.getAuthorityStatus({ replica: 'replica-b' })).authorities.some((x) => x.id === oldB && x.state === 'old'),
    );
    const notHere = await A.admin.taintAuthority({ id: oldB, reason: 'wrong replica', replica: 'replica-a' }).catch((e: unknown) => e);
    expect(refusal(notHere)).toEqual({ code: 'ERR_AUTHORITY_NOT_FOUND', reason: 'not-on-replica' });
    expect((notHere as Error).message).toContain('replica replica-b holds it');
    expect(stateOf(B, oldB)).toBe('old');
    expect(await lastSeq()).toBe(seq);

    await json('authority', 'taint', oldB, '--reason', 'suspect', '--replica', 'replica-b');
    await until('B taints it', () => stateOf(B, oldB) === 'tainted');
    const sent = (await A.app.state.actions.since(seq)).at(-1)!;
    expect(sent).toMatchObject({ action: 'taint', authorityId: oldB, target: 'replica-b', origin: 'replica-a' });
    expect(stateOf(A, oldA)).toBe('old');

    // A heartbeat row (anyone with write access to the table) claiming A's authority does not divert its taint there.
    await A.app.state.replicas.heartbeat('replica-f', { authorities: [{ id: oldA, state: 'old' }], subscribers: 0, converged: 0 }, 60_000);
    expect((await A.admin.getAuthorityStatus({ replica: 'replica-f' })).authorities.map((x) => x.id)).toEqual([oldA]);
    const forged = await A.admin.taintAuthority({ id: oldA, reason: 'diverted', replica: 'replica-f' }).catch((e: unknown) => e);
    expect(refusal(forged)).toEqual({ code: 'ERR_AUTHORITY_NOT_FOUND', reason: 'not-on-replica' });
    expect((forged as Error).message).toContain('replica replica-a holds it');
    expect(await lastSeq()).toBe(sent.seq);
  });
});

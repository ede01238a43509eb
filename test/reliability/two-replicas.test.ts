/**
 * Issue #13, reliability: two real replicas (in-process apps, one disk upstream root,
 * one real PostgreSQL) under load from Envoy-like clients of each, with real
 * mutual-TLS handshakes between a client of A and a client of B running through
 * every phase: a token minted on A spent on B; one token raced 100 times across
 * both replicas; an emergency rotation asked of A; the database stopped and started.
 */
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHandshakeLoop, SimulatedEnvoy, type HandshakeLoop } from '../e2e/envoy-fleet.js';
import { fetchSecretOn, type FetchedSvid } from '../identity/sds-client.js';
import { connect } from '../sds/envoy-client.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { hasTools } from '../helpers/tools.js';
import { createSite, SERVER_ID, sleep, soak, startInProcess, until, type InProcessReplica, type Site } from './replicas.js';

const idOf = (name: string) => `spiffe://cluster.local/ns/rel/sa/${name}`;
const LOAD = 8; // Envoys per replica besides the two handshaking ones

describe.runIf(hasTools('initdb', 'pgCtl', 'runuser'))('two replicas, one PostgreSQL, under load', () => {
  let db: TestPostgres;
  let site: Site;
  const replicas: InProcessReplica[] = [];
  const envoys: SimulatedEnvoy[] = [];
  let loop: HandshakeLoop;
  let clientOfA: SimulatedEnvoy;
  let serverOfB: SimulatedEnvoy;

  const token = async (on: InProcessReplica, name: string, ttl = 600) =>
    (await on.admin.createJoinToken({ spiffe_id: idOf(name), dns_names: [], ttl_seconds: ttl })).token;
  const join = async (on: InProcessReplica, name: string, protocol: 'sotw' | 'delta') => {
    const envoy = new SimulatedEnvoy({ address: on.sds, bootstrapBundlePem: on.bundlePem, serverId: SERVER_ID, nodeId: `${name}~10.0.0.1`, authorization: `Bearer ${await token(on, name)}`, protocol });
    envoys.push(envoy);
    return envoy;
  };

  /** One FetchSecrets on its own connection (no shared subchannel: each is a separate machine). */
  const present = async (on: InProcessReplica, authorization: string | undefined, nodeId: string, identity?: FetchedSvid): Promise<FetchedSvid> => {
    const credentials = grpc.credentials.createSsl(Buffer.from(on.bundlePem), identity ? Buffer.from(identity.privateKeyPem) : null, identity ? Buffer.from(identity.chainPem) : null, {
      checkServerIdentity: (_h, cert) => (cert.subjectaltname === `URI:${SERVER_ID}` ? undefined : new Error(`server is ${cert.subjectaltname}`)),
    });
    const client = connect(on.sds, credentials, { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const metadata = new grpc.Metadata();
      if (authorization) metadata.set('authorization', authorization);
      const secret = await fetchSecretOn(client, 'default', metadata, nodeId);
      const chainPem = Buffer.from(secret.tls_certificate!.certificate_chain.inline_bytes).toString();
      const leaf = new X509Certificate(chainPem);
      return { spiffeIds: [leaf.subjectAltName!.slice(4)], dnsNames: [], serial: leaf.serialNumber, chainPem, privateKeyPem: Buffer.from(secret.tls_certificate!.private_key.inline_bytes).toString() };
    } finally {
      client.close();
    }
  };
  const failure = (err: unknown) => ({ code: (err as grpc.ServiceError).code, message: (err as Error).message });

  beforeAll(async () => {
    db = await startTestPostgres();
    const database = await db.createDatabase();
    site = await createSite('wca-rel-replicas-');
    // Short leaves: every client renews every few seconds through each phase. Both replicas start at once, and the
    // Envoys join at once (each its own token and node), as a fleet does.
    // Each is kept as it starts, so afterAll closes it should the other fail to start.
    await Promise.all(['a', 'b'].map(async (name, i) => (replicas[i] = await startInProcess(site.config(name, { db, database, leafTtl: '8s' }), `replica-${name}`))));
    const [A, B] = replicas as [InProcessReplica, InProcessReplica];
    [clientOfA, serverOfB] = await Promise.all([join(A, 'client', 'sotw'), join(B, 'server', 'delta')]);
    await Promise.all(
      Array.from({ length: LOAD }, (_, i) => [join(A, `a${i}`, i % 2 ? 'delta' : 'sotw'), join(B, `b${i}`, i % 2 ? 'delta' : 'sotw')]).flat(),
    );
    await Promise.all(envoys.map((e) => e.whenReady()));
    loop = await startHandshakeLoop(clientOfA, serverOfB, { client: idOf('client'), server: idOf('server') }, 50);
  }, 60_000);

  afterAll(async () => {
    await loop?.stop();
    envoys.forEach((e) => e.close());
    await Promise.all(replicas.map((r) => r.close()));
    await db?.close();
    site?.close();
  });

  it('a client of A and a client of B complete mutual-TLS handshakes with each other', async () => {
    await until('handshakes A↔B', () => loop.ok >= 20);
    expect(loop.failures).toEqual([]);
  });

  it('a token minted on A is spent on B; 100 concurrent presentations of one token across both replicas yield exactly one certificate', async () => {
    const [A, B] = replicas as [InProcessReplica, InProcessReplica];
    const once = await token(A, 'spent-on-b');
    expect((await present(B, `Bearer ${once}`, 'spent-on-b~10.0.0.2')).spiffeIds).toEqual([idOf('spent-on-b')]);

    const raced = await token(A, 'raced');
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) => present(i % 2 ? B : A, `Bearer ${raced}`, `raced-${i}~10.0.1.${i}`).then(() => 'issued' as const, failure)),
    );
    const issued = outcomes.filter((o) => o === 'issued');
    const refused = outcomes.filter((o) => o !== 'issued');
    expect(issued).toHaveLength(1);
    // Every other one: UNAUTHENTICATED, because the token was used (the SDS status carries only the message).
    expect(refused.filter((o) => o.code !== grpc.status.UNAUTHENTICATED || !/was already used$/.test(o.message))).toEqual([]);
    expect(loop.failures).toEqual([]);
  });

  it('an emergency rotation asked of A re-keys the subscribers of B too, and no handshake between them fails', async () => {
    const [A, B] = replicas as [InProcessReplica, InProcessReplica];
    const activeOn = (r: InProcessReplica) => r.app.authority.authorities().find((x) => x.state === 'active')!.id;
    const before = { a: activeOn(A), b: activeOn(B) };
    const okBefore = loop.ok;
    const done = await A.admin.emergencyRotate({ reason: 'reliability drill', deadline_seconds: 20 });
    expect(done.new_authority_id).toBe(activeOn(A));
    await until('B rotates', () => activeOn(B) !== before.b);
    const onA = envoys.filter((e) => e.options.address === A.sds);
    const onB = envoys.filter((e) => e.options.address === B.sds);
    await until('every subscriber of A and of B serves a leaf of its replica’s new authority', () =>
      onA.every((e) => e.currentAuthority() === activeOn(A)) && onB.every((e) => e.currentAuthority() === activeOn(B)),
    20_000);
    expect(activeOn(A)).not.toBe(before.a);
    const okAfter = loop.ok;
    await until('handshakes on the new authorities', () => loop.ok >= okAfter + 10);
    expect(loop.pairs.has(`${activeOn(A)}>${activeOn(B)}`)).toBe(true);
    expect(loop.ok).toBeGreaterThan(okBefore);
    expect(loop.failures).toEqual([]);
  }, 60_000);

  it('the database stopped and started under load: renewals never fail, join tokens are UNAVAILABLE during the outage and work after it', async () => {
    const [A, B] = replicas as [InProcessReplica, InProcessReplica];
    const pending = await token(A, 'after-outage');
    // A machine renewing over mTLS with the SVID it holds, alternately on each replica, without pause.
    let svid = await present(B, `Bearer ${await token(A, 'renewer')}`, 'renewer~10.0.0.3');
    // Each replica learns the other's intermediates (new since the rotation) from its next heartbeat.
    const renewsOn = (r: InProcessReplica) => present(r, undefined, 'renewer~10.0.0.3', svid).then((next) => ((svid = next), true), () => false);
    await until('each replica accepts an SVID of the other for renewal', async () => (await renewsOn(A)) && (await renewsOn(B)));
    const renewals = { ok: 0, failures: [] as unknown[] };
    let renewing = true;
    const renewer = (async () => {
      for (let i = 0; renewing; i++) {
        await present(i % 2 ? A : B, undefined, 'renewer~10.0.0.3', svid).then(
          (next) => ((svid = next), renewals.ok++),
          (err: unknown) => renewals.failures.push({ at: Date.now(), on: i % 2 ? 'A' : 'B', ...failure(err) }),
        );
        await sleep(50);
      }
    })();
    try {
      await until('renewals before the outage', () => renewals.ok >= 4);
      const refusals: { code: number; message: string }[] = [];
      await db.stop();
      try {
        const okAtStop = { renewals: renewals.ok, handshakes: loop.ok };
        // Held for a while under load: every presentation refused, none waits long.
        const end = Date.now() + 4_000 * soak;
        for (let i = 0; Date.now() < end; i++) {
          const started = Date.now();
          refusals.push(await present(i % 2 ? A : B, `Bearer ${pending}`, `outage-${i}~10.0.2.1`).then(() => ({ code: 0, message: 'issued' }), failure));
          expect(Date.now() - started).toBeLessThan(5_000);
          await sleep(200);
        }
        expect(refusals.length).toBeGreaterThan(5);
        expect(refusals.filter((r) => r.code !== grpc.status.UNAVAILABLE)).toEqual([]);
        expect(renewals.ok).toBeGreaterThan(okAtStop.renewals + 5);
        expect(loop.ok).toBeGreaterThan(okAtStop.handshakes + 5);
      } finally {
        await db.start();
      }
      await until('both replicas reconnect', () => A.app.state.health().up && B.app.state.health().up, 20_000);
      expect((await present(B, `Bearer ${pending}`, 'after-outage~10.0.0.4')).spiffeIds).toEqual([idOf('after-outage')]);
      const okAtRestart = renewals.ok;
      await until('renewals after the outage', () => renewals.ok >= okAtRestart + 4);
    } finally {
      renewing = false;
      await renewer;
    }
    expect(renewals.failures, JSON.stringify(renewals.failures)).toEqual([]);
    expect(loop.failures).toEqual([]);
    // Every Envoy kept renewing through it: each holds a leaf that is still valid.
    for (const e of envoys) expect(Date.parse(new X509Certificate(e.leaves.at(-1)!).validTo)).toBeGreaterThan(Date.now());
  }, 60_000);
});

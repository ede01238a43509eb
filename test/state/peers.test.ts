/**
 * Peer intermediates read from heartbeats (src/state/peers.ts), with a real
 * Authority's lists: however many authorities a replica holds, the one signing now
 * reaches its peers; tainted ones are never trusted; a malformed row costs only itself.
 * After a database outage longer than the membership TTL every row has lapsed until
 * its replica beats again; that first read must not drop the peers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { MtlsAuthenticator } from '../../src/identity/mtls.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { PeerIntermediates } from '../../src/state/peers.js';
import type { ReplicaMembership, ReplicaRecord } from '../../src/state/types.js';
import { silentLogger, type Logger } from '../../src/telemetry/logger.js';
import { pemBlocks } from '../../src/x509/der.js';
import { FakeClock } from '../fakes/fake-clock.js';

const ID = 'spiffe://cluster.local/vm/peer-1';
let authority: Authority | undefined;
afterEach(async () => authority?.close());

/** Replica r1's heartbeat status as app.ts publishes it. */
const statusOf = (a: Authority) => ({ intermediates: a.renewalIntermediatesPem(), taintedIntermediates: a.taintedIntermediatesPem() });

async function peersOf(statuses: Record<string, unknown>, logger: Logger = silentLogger()) {
  const clock = new FakeClock(Date.now());
  const store = createMemoryStore(clock, { maxActions: 10 });
  for (const [id, status] of Object.entries(statuses)) await store.replicas.heartbeat(id, status as Record<string, unknown>, 60_000);
  const peers = new PeerIntermediates({ membership: store.replicas, selfId: 'r2', clock, intervalMs: 1_000, logger });
  await peers.refresh();
  peers.stop();
  return peers;
}

async function renewsThrough(a: Authority, peers: PeerIntermediates) {
  const certs = pemBlocks((await a.issue({ spiffeId: ID })).chainPem).map((der) => new Uint8Array(der));
  const auth = new MtlsAuthenticator({ trustDomain: 'cluster.local', clock: new FakeClock(Date.now()), intermediates: () => peers.current(), tainted: () => peers.tainted() });
  return auth.authenticate({ transport: 'tls', peerAddress: '127.0.0.2:2', metadata: new Map(), peerChain: { certificates: certs, verifyError: null } });
}

describe('peer intermediates', () => {
  it('with more authorities than a peer keeps (old ones, then tainted ones), the active one still renews on the peer', async () => {
    authority = await createDevAuthority({ signers: 1 });
    for (let i = 0; i < 9; i++) {
      await authority.prepareNext();
      authority.activateNext('rotation');
    }
    expect(authority.renewalIntermediatesPem()).toHaveLength(10);
    expect(await renewsThrough(authority, await peersOf({ r1: statusOf(authority) }))).toMatchObject({ subject: ID });

    for (const old of authority.authorities().filter((a) => a.state === 'old')) authority.taint(old.id, 'drill');
    for (let i = 0; i < 9; i++) {
      await authority.prepareNext();
      authority.activateNext('rotation');
    }
    const peers = await peersOf({ r1: statusOf(authority) });
    expect(peers.tainted()).toHaveLength(8);
    expect(await renewsThrough(authority, peers)).toMatchObject({ subject: ID });
  }, 30_000);

  it('skips a heartbeat row whose status is malformed (JSON null, wrong types) with a warning, and keeps the others', async () => {
    authority = await createDevAuthority({ signers: 1 });
    const warnings: unknown[] = [];
    const logger = silentLogger();
    logger.warn = ((obj: unknown) => void warnings.push(obj)) as Logger['warn'];
    const peers = await peersOf({ 'aaa-ghost': null, 'aab-ghost': { intermediates: 'x' }, r1: statusOf(authority) }, logger);
    expect(warnings).toEqual([{ rows: 2, replicas: ['aaa-ghost', 'aab-ghost'] }]);
    expect(await renewsThrough(authority, peers)).toMatchObject({ subject: ID });
  });
});

const chain = '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n';

function membership() {
  const m = {
    rows: [] as ReplicaRecord[] | 'down',
    async heartbeat() {},
    async live() {
      if (m.rows === 'down') throw new Error('down');
      return m.rows;
    },
  };
  return m satisfies ReplicaMembership;
}

describe('peer intermediates across a database outage', () => {
  it('keeps a peer whose row lapsed during an outage; drops it after three reads of a reachable store without it', async () => {
    const m = membership();
    const peers = new PeerIntermediates({ membership: m, selfId: 'a', clock: new FakeClock(), intervalMs: 1_000, logger: silentLogger() });
    m.rows = [{ replicaId: 'a', status: { intermediates: ['-----BEGIN CERTIFICATE-----\nA'] }, lastSeenMs: 0 }, { replicaId: 'b', status: { intermediates: [chain] }, lastSeenMs: 0 }];
    await peers.refresh();
    expect(peers.current()).toEqual([chain]);
    m.rows = 'down';
    await peers.refresh();
    expect(peers.current()).toEqual([chain]);
    // Back up: b's row expired while the database was down, and b has not beaten yet.
    m.rows = [];
    await peers.refresh();
    expect(peers.current()).toEqual([chain]);
    await peers.refresh();
    expect(peers.current()).toEqual([chain]);
    await peers.refresh();
    expect(peers.current()).toEqual([]);
    peers.stop();
  });
});

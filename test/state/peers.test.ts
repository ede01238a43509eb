/**
 * PeerIntermediates: which other replicas' intermediates mTLS renewal accepts.
 * After a database outage longer than the membership TTL every row has lapsed
 * until its replica beats again; that first read must not drop the peers.
 */
import { describe, expect, it } from 'vitest';
import { PeerIntermediates } from '../../src/state/peers.js';
import type { ReplicaMembership, ReplicaRecord } from '../../src/state/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';

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

describe('PeerIntermediates', () => {
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

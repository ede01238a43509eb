import { describe, expect, it } from 'vitest';
import { ConvergenceTracker, tagResource } from '../../src/sds/convergence.js';
import type { Resource } from '../../src/sds/types.js';
import { FakeClock } from '../fakes/fake-clock.js';

const resource = (name: string): Resource => ({ name, version: name, typeUrl: 't', value: new Uint8Array(), any: new Uint8Array() });
const cert = (caId: string) => tagResource(resource(`cert-${caId}`), { caId });
const bundle = (version: string) => tagResource(resource(`bundle-${version}`), { bundleVersion: version });

describe('ConvergenceTracker', () => {
  it('counts sent vs ACKed per authority from nonces, NACKs keep the old one, a closed stream counts nowhere', () => {
    const gauge = new Map<string, number>();
    const t = new ConvergenceTracker({ clock: new FakeClock(), onCount: (a, s, v) => gauge.set(`${a}/${s}`, v) });
    const a = t.subscriber('node-a');
    const b = t.subscriber('node-b');
    a.sent('1', [cert('old')]);
    b.sent('1', [cert('old')]);
    expect(t.countsFor('old')).toEqual({ sent: 2, acked: 0, nacked: 0 });
    a.answered('1', false);
    b.answered('1', false);
    expect(t.countsFor('old')).toEqual({ sent: 0, acked: 2, nacked: 0 });
    a.sent('2', [cert('new')]);
    b.sent('2', [cert('new')]);
    expect(t.countsFor('new')).toEqual({ sent: 2, acked: 0, nacked: 0 });
    a.answered('2', false);
    b.answered('2', true);
    expect(t.countsFor('new')).toEqual({ sent: 0, acked: 1, nacked: 1 });
    expect(t.countsFor('old')).toEqual({ sent: 0, acked: 1, nacked: 0 });
    expect(t.nackedNodes('new')).toEqual(['node-b']);
    expect(t.summary('new', '')).toMatchObject({ subscribers: 2, converged: 1 });
    // An answer to a nonce never sent (or already answered) changes nothing.
    b.answered('2', false);
    b.answered('99', false);
    expect(t.countsFor('old').acked).toBe(1);
    b.close();
    expect(t.holders('old')).toBe(0);
    expect(t.summary('new', '')).toMatchObject({ subscribers: 1, converged: 1 });
    expect(gauge.get('new/acked')).toBe(1);
    expect(gauge.get('old/acked')).toBe(0);
  });

  it('waits for every subscriber to ACK an authority, or answers with the counts at the deadline', async () => {
    const clock = new FakeClock(0);
    const t = new ConvergenceTracker({ clock });
    const a = t.subscriber('a');
    const b = t.subscriber('b');
    a.sent('1', [cert('x')]);
    b.sent('1', [cert('x')]);
    const all = t.waitForAuthority('x', 10_000);
    a.answered('1', false);
    let done = false;
    void all.then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    b.answered('1', false);
    await expect(all).resolves.toEqual({ subscribers: 2, converged: 2, complete: true });

    a.sent('2', [cert('y')]);
    const partial = t.waitForAuthority('y', 5_000);
    clock.advance(5_000);
    await expect(partial).resolves.toEqual({ subscribers: 2, converged: 0, complete: false });
  });

  it('tracks bundle versions ACKed, for root rotation', async () => {
    const t = new ConvergenceTracker({ clock: new FakeClock(0) });
    const a = t.subscriber('a');
    const b = t.subscriber('b');
    a.sent('1', [bundle('v1')]);
    b.sent('1', [bundle('v1')]);
    a.answered('1', false);
    b.answered('1', false);
    a.sent('2', [bundle('v2')]);
    b.sent('2', [bundle('v2')]);
    a.answered('2', false);
    expect(t.summary(undefined, 'v2')).toMatchObject({ bundleSubscribers: 2, bundleAcked: 1 });
    const half = await t.waitForBundle('v2', 0.5, 0);
    expect(half.complete).toBe(true);
    b.answered('2', false);
    expect(t.summary(undefined, 'v2')).toMatchObject({ bundleAcked: 2 });
    expect(t.summary(undefined, 'v1')).toMatchObject({ bundleAcked: 0 });
  });
});

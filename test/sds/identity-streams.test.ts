import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { EvictionList } from '../../src/identity/evictions.js';
import { IdentityStreams } from '../../src/sds/identity-streams.js';
import type { StreamCaller } from '../../src/sds/source.js';
import { FakeClock } from '../fakes/fake-clock.js';

const ID = 'spiffe://cluster.local/vm/db-1';
const caller = (extra: Partial<StreamCaller> = {}): StreamCaller => ({
  grant: { spiffeId: ID, dnsNames: [], maxTtlSeconds: 3600, rule: 'test', reason: 'test' },
  instance: 'test',
  lineageId: new Uint8Array(16),
  ...extra,
});

describe('IdentityStreams (injected clock)', () => {
  it('ends a stream when its lineage reaches the maximum age, not before, and not once released', () => {
    const clock = new FakeClock();
    const streams = new IdentityStreams(clock);
    const ended: unknown[] = [];
    streams.admit(caller({ lineageStartMs: clock.now(), validUntilMs: clock.now() + 60_000 }), (err) => ended.push(err));
    const release = streams.admit(caller({ validUntilMs: clock.now() + 60_000 }), (err) => ended.push(err));
    release();
    clock.advance(59_999);
    expect(ended).toHaveLength(0);
    clock.advance(1);
    expect(ended).toHaveLength(1);
    expect(isWcaError(ended[0], 'ERR_LINEAGE_EXPIRED')).toBe(true);
  });

  it('ends every stream of a SPIFFE ID on demand and forgets released ones', () => {
    const streams = new IdentityStreams(new FakeClock());
    const ended: string[] = [];
    streams.admit(caller(), () => ended.push('a'));
    const release = streams.admit(caller(), () => ended.push('b'));
    streams.admit({ ...caller(), grant: { ...caller().grant, spiffeId: 'spiffe://cluster.local/vm/other' } }, () => ended.push('other'));
    release();
    expect(streams.end(ID, new Error('evicted'))).toBe(1);
    expect(ended).toEqual(['a']);
  });

  it('refuses a stream whose lineage was evicted between its authentication and its start', () => {
    const clock = new FakeClock();
    const evictions = new EvictionList(clock, 3600_000);
    const streams = new IdentityStreams(clock, evictions);
    const lineageStartMs = clock.now() - 1000;
    evictions.evict(ID);
    expect(() => streams.admit(caller({ lineageStartMs }), () => undefined)).toThrow(expect.objectContaining({ code: 'ERR_IDENTITY_EVICTED' }));
    // An original credential (no lineage) is not affected.
    expect(() => streams.admit(caller(), () => undefined)).not.toThrow();
  });
});

describe('EvictionList', () => {
  it('refuses lineages begun by the eviction, forgets it once those certificates expired, and stays bounded', () => {
    const clock = new FakeClock();
    const evictions = new EvictionList(clock, 3600_000);
    const before = clock.now();
    evictions.evict(ID);
    expect(() => evictions.check(ID, before)).toThrow(expect.objectContaining({ code: 'ERR_IDENTITY_EVICTED' }));
    expect(() => evictions.check(ID, before + 1000)).not.toThrow();
    expect(() => evictions.check('spiffe://cluster.local/vm/other', before)).not.toThrow();
    clock.advance(3600_000);
    expect(() => evictions.check(ID, before)).not.toThrow();
    expect(evictions.size).toBe(0);
  });

  it('caps streams per instance with ERR_SDS_LIMIT (streams-per-instance); other instances are not affected and a release frees a place once', () => {
    const streams = new IdentityStreams(new FakeClock(), undefined, 2);
    const first = streams.admit(caller(), () => undefined);
    streams.admit(caller(), () => undefined);
    expect(() => streams.admit(caller(), () => undefined)).toThrow(
      expect.objectContaining({ code: 'ERR_SDS_LIMIT', details: { reason: 'streams-per-instance', limit: 2 } }),
    );
    expect(() => streams.admit(caller({ instance: 'other' }), () => undefined)).not.toThrow();
    first();
    first();
    streams.admit(caller(), () => undefined);
    expect(() => streams.admit(caller(), () => undefined)).toThrow(expect.objectContaining({ code: 'ERR_SDS_LIMIT' }));
  });
});

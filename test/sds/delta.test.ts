import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { DeltaProtocol } from '../../src/sds/delta.js';
import type { DeltaRequest, DeltaResponse } from '../../src/sds/types.js';
import { FakeSource, recorder } from './fake-source.js';

const req = (over: Partial<DeltaRequest> = {}): DeltaRequest => ({
  kind: 'delta',
  typeUrl: '',
  subscribe: [],
  unsubscribe: [],
  initialVersions: new Map(),
  responseNonce: '',
  ...over,
});

function setup() {
  const source = new FakeSource();
  const rec = recorder<DeltaResponse>();
  const protocol = new DeltaProtocol(rec.deps(source));
  const sentPairs = (i: number) => rec.sent[i]!.resources.map((r) => `${r.name}@${r.version}`);
  return { source, protocol, sent: rec.sent, nacks: rec.nacks, unknown: rec.unknown, sentPairs };
}

describe('DeltaProtocol', () => {
  it('sends subscribed resources with name and version, then only what changed', () => {
    const { source, protocol, sent, sentPairs } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ subscribe: ['default', 'ROOTCA'] }));
    expect(sentPairs(0)).toEqual(['ROOTCA@b1', 'default@v1']);
    protocol.handle(req({ responseNonce: sent[0]!.nonce }));
    source.set('default', 'v2');
    expect(sentPairs(1)).toEqual(['default@v2']);
    expect(sent[1]!.nonce).not.toBe(sent[0]!.nonce);
  });

  it('honours initial_resource_versions on the first request: a held version is not resent, a stale one is', () => {
    const { source, protocol, sent, sentPairs } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ subscribe: ['default', 'ROOTCA'], initialVersions: new Map([['default', 'v1'], ['ROOTCA', 'old']]) }));
    expect(sent).toHaveLength(1);
    expect(sentPairs(0)).toEqual(['ROOTCA@b1']);
    source.set('default', 'v2');
    expect(sentPairs(1)).toEqual(['default@v2']);
  });

  it('answers a resubscription to a name the client holds with its current version (xDS: it may have dropped it)', () => {
    const { source, protocol, sent, sentPairs } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ subscribe: ['default', 'ROOTCA'] }));
    protocol.handle(req({ responseNonce: sent[0]!.nonce, subscribe: ['default'] }));
    expect(sent).toHaveLength(2);
    expect(sentPairs(1)).toEqual(['default@v1']);
    expect(sent[1]!.nonce).not.toBe(sent[0]!.nonce);
    // An ACK that subscribes to nothing new sends nothing.
    protocol.handle(req({ responseNonce: sent[1]!.nonce }));
    expect(sent).toHaveLength(2);
  });

  it('trusts initial_resource_versions only on the first request of a stream', () => {
    const { source, protocol, sent, sentPairs } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ subscribe: ['ROOTCA'], initialVersions: new Map([['default', 'v1']]) }));
    expect(sentPairs(0)).toEqual(['ROOTCA@b1']);
    // The same map on a later request is ignored (the field is only meaningful at stream start):
    // subscribing to default now must send it although the client claimed v1 earlier.
    protocol.handle(req({ responseNonce: sent[0]!.nonce, subscribe: ['default'], initialVersions: new Map([['default', 'v1']]) }));
    expect(sentPairs(1)).toEqual(['default@v1']);
    expect(sent).toHaveLength(2);
  });

  it('stops watching on unsubscribe and resends from scratch on resubscribe', () => {
    const { source, protocol, sent, sentPairs } = setup();
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    protocol.handle(req({ responseNonce: sent[0]!.nonce, unsubscribe: ['default'] }));
    expect(source.watching('default')).toBe(0);
    source.set('default', 'v2');
    expect(sent).toHaveLength(1);
    protocol.handle(req({ subscribe: ['default'] }));
    expect(sentPairs(1)).toEqual(['default@v2']);
  });

  it('on NACK records the rejected versions, reports them, and does not push them again', () => {
    const { source, protocol, sent, nacks } = setup();
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    protocol.handle(req({ responseNonce: sent[0]!.nonce, errorDetail: { code: 13, message: 'cannot load key' } }));
    expect(nacks).toEqual([{ names: ['default'], detail: { code: 13, message: 'cannot load key' } }]);
    source.set('default', 'v1');
    expect(sent).toHaveLength(1);
    source.set('default', 'v2');
    expect(sent).toHaveLength(2);
  });

  it('sends a rejected version again only when the client explicitly subscribes to it again', () => {
    const { source, protocol, sent, sentPairs } = setup();
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    protocol.handle(req({ responseNonce: sent[0]!.nonce, errorDetail: { code: 13, message: 'cannot load key' } }));
    expect(sent).toHaveLength(1);
    protocol.handle(req({ subscribe: ['default'] }));
    expect(sent).toHaveLength(2);
    expect(sentPairs(1)).toEqual(['default@v1']);
  });

  it('ignores an ACK or NACK for an unknown nonce', () => {
    const { source, protocol, sent, nacks } = setup();
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    protocol.handle(req({ responseNonce: 'nope', errorDetail: { code: 3, message: 'x' } }));
    expect(nacks).toHaveLength(0);
    source.set('default', 'v2');
    expect(sent).toHaveLength(2);
  });

  it('rejects someone else’s SPIFFE ID with a typed error naming it', () => {
    const { protocol } = setup();
    let caught: unknown;
    try {
      protocol.handle(req({ subscribe: ['default', 'spiffe://cluster.local/someone-else'] }));
    } catch (err) {
      caught = err;
    }
    expect(isWcaError(caught, 'ERR_PERMISSION_DENIED')).toBe(true);
    expect((caught as Error).message).toContain('spiffe://cluster.local/someone-else');
  });

  it('reports a name that does not exist in removed_resources once per subscription and keeps serving', () => {
    const { source, protocol, sent, sentPairs, unknown } = setup();
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ subscribe: ['defualt', 'ROOTCA'] }));
    expect(sent).toHaveLength(1);
    expect(sentPairs(0)).toEqual(['ROOTCA@b1']);
    expect(sent[0]!.removed).toEqual(['defualt']);
    expect(unknown.map((u) => u.name)).toEqual(['defualt']);
    // An ACK, or a change of another resource, does not repeat the report...
    protocol.handle(req({ responseNonce: sent[0]!.nonce }));
    source.set('ROOTCA', 'b2');
    expect(sent).toHaveLength(2);
    expect(sent[1]!.removed).toEqual([]);
    // ...subscribing to the name again does, like any subscription, and nothing else changes.
    protocol.handle(req({ responseNonce: sent[1]!.nonce, subscribe: ['defualt'] }));
    expect(sent).toHaveLength(3);
    expect(sent[2]!.resources).toEqual([]);
    expect(sent[2]!.removed).toEqual(['defualt']);
    expect(unknown.map((u) => u.name)).toEqual(['defualt', 'defualt']);
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    expect(sentPairs(3)).toEqual(['default@v1']);
    expect(sent[3]!.removed).toEqual([]);
  });

  it('answers a subscription to only a missing name with a removal, and counts its NACK', () => {
    const { protocol, sent, nacks } = setup();
    protocol.handle(req({ subscribe: ['defualt'] }));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.resources).toEqual([]);
    expect(sent[0]!.removed).toEqual(['defualt']);
    // Envoy before 1.31 rejects a removal-only SDS response ("Missing SDS resources").
    protocol.handle(req({ responseNonce: sent[0]!.nonce, errorDetail: { code: 13, message: 'Missing SDS resources for defualt' } }));
    expect(nacks).toEqual([{ names: ['defualt'], detail: { code: 13, message: 'Missing SDS resources for defualt' } }]);
    expect(sent).toHaveLength(1);
  });
});

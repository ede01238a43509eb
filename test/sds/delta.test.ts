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

  it('honours initial_resource_versions: a held version is not resent', () => {
    const { source, protocol, sent, sentPairs } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ subscribe: ['default', 'ROOTCA'], initialVersions: new Map([['default', 'v1'], ['ROOTCA', 'old']]) }));
    expect(sent).toHaveLength(1);
    expect(sentPairs(0)).toEqual(['ROOTCA@b1']);
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

  it('on NACK records the rejected versions, reports them, and does not resend them', () => {
    const { source, protocol, sent, nacks } = setup();
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    protocol.handle(req({ responseNonce: sent[0]!.nonce, errorDetail: { code: 13, message: 'cannot load key' } }));
    expect(nacks).toEqual([{ names: ['default'], detail: { code: 13, message: 'cannot load key' } }]);
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    expect(sent).toHaveLength(1);
    source.set('default', 'v2');
    expect(sent).toHaveLength(2);
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

  it('reports a name that does not exist once in removed_resources and keeps serving', () => {
    const { source, protocol, sent, sentPairs, unknown } = setup();
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ subscribe: ['defualt', 'ROOTCA'] }));
    expect(sent).toHaveLength(1);
    expect(sentPairs(0)).toEqual(['ROOTCA@b1']);
    expect(sent[0]!.removed).toEqual(['defualt']);
    expect(unknown.map((u) => u.name)).toEqual(['defualt']);
    protocol.handle(req({ responseNonce: sent[0]!.nonce, subscribe: ['defualt'] }));
    expect(sent).toHaveLength(1);
    source.set('default', 'v1');
    protocol.handle(req({ subscribe: ['default'] }));
    expect(sentPairs(1)).toEqual(['default@v1']);
    expect(sent[1]!.removed).toEqual([]);
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

import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { SotwProtocol, sotwVersion } from '../../src/sds/sotw.js';
import type { SotwRequest, SotwResponse } from '../../src/sds/types.js';
import { FakeSource, recorder } from './fake-source.js';

const req = (over: Partial<SotwRequest> = {}): SotwRequest => ({
  kind: 'sotw',
  versionInfo: '',
  resourceNames: ['default'],
  typeUrl: '',
  responseNonce: '',
  ...over,
});

function setup(allowed?: string[]) {
  const source = new FakeSource(allowed);
  const rec = recorder<SotwResponse>();
  const protocol = new SotwProtocol(rec.deps(source), ['default', 'ROOTCA']);
  const names = (i: number) => rec.sent[i]!.resources.map((r) => r.name);
  return { source, protocol, sent: rec.sent, nacks: rec.nacks, unknown: rec.unknown, names };
}

describe('SotwProtocol', () => {
  it('answers the first request with exactly the named secret, a version and a nonce', () => {
    const { source, protocol, sent, names } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req());
    expect(sent).toHaveLength(1);
    expect(names(0)).toEqual(['default']);
    expect(sent[0]!.nonce).not.toBe('');
    expect(sent[0]!.versionInfo).toBe(sotwVersion(sent[0]!.resources));
  });

  it('stays silent until the secret exists ("not yet"), then sends it', () => {
    const { source, protocol, sent } = setup();
    protocol.handle(req());
    expect(sent).toHaveLength(0);
    source.set('default', 'v1');
    expect(sent).toHaveLength(1);
  });

  it('treats an ACK as done and pushes the next version with a fresh nonce', () => {
    const { source, protocol, sent } = setup();
    source.set('default', 'v1');
    protocol.handle(req());
    protocol.handle(req({ versionInfo: sent[0]!.versionInfo, responseNonce: sent[0]!.nonce }));
    expect(sent).toHaveLength(1);
    source.set('default', 'v2');
    expect(sent).toHaveLength(2);
    expect(sent[1]!.nonce).not.toBe(sent[0]!.nonce);
    expect(sent[1]!.versionInfo).not.toBe(sent[0]!.versionInfo);
  });

  it('on NACK keeps the last good state, counts it, and never resends the rejected content', () => {
    const { source, protocol, sent, nacks } = setup();
    source.set('default', 'v1');
    protocol.handle(req());
    const good = sent[0]!;
    protocol.handle(req({ versionInfo: good.versionInfo, responseNonce: good.nonce }));
    source.set('default', 'bad');
    const bad = sent[1]!;
    protocol.handle(req({ versionInfo: good.versionInfo, responseNonce: bad.nonce, errorDetail: { code: 3, message: 'bad key' } }));
    expect(nacks).toEqual([{ names: ['default'], detail: { code: 3, message: 'bad key' } }]);
    source.set('default', 'bad'); // identical content again
    expect(sent).toHaveLength(2);
    source.set('default', 'v3');
    expect(sent).toHaveLength(3);
  });

  it('ignores a request carrying a stale nonce, even one asking for other names', () => {
    const { source, protocol, sent } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req());
    source.set('default', 'v2');
    protocol.handle(req({ responseNonce: sent[0]!.nonce, resourceNames: ['ROOTCA'], errorDetail: { code: 3, message: 'x' } }));
    expect(sent).toHaveLength(2);
    expect(source.watching('ROOTCA')).toBe(0);
  });

  it('follows a subscription change on the same stream', () => {
    const { source, protocol, sent, names } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req());
    protocol.handle(req({ versionInfo: sent[0]!.versionInfo, responseNonce: sent[0]!.nonce, resourceNames: ['default', 'ROOTCA'] }));
    expect(names(1)).toEqual(['ROOTCA', 'default']);
    protocol.handle(req({ versionInfo: sent[1]!.versionInfo, responseNonce: sent[1]!.nonce, resourceNames: ['ROOTCA'] }));
    expect(names(2)).toEqual(['ROOTCA']);
    expect(source.watching('default')).toBe(0);
  });

  it('does not resend what a reconnecting client already holds', () => {
    const first = setup();
    first.source.set('default', 'v1');
    first.protocol.handle(req());
    const held = first.sent[0]!.versionInfo;
    const again = setup();
    again.source.set('default', 'v1');
    again.protocol.handle(req({ versionInfo: held }));
    expect(again.sent).toHaveLength(0);
    again.source.set('default', 'v2');
    expect(again.sent).toHaveLength(1);
  });

  it('serves both default names when a request lists none', () => {
    const { source, protocol, names } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ resourceNames: [] }));
    expect(names(0)).toEqual(['ROOTCA', 'default']);
  });

  it('throws a typed denial for someone else’s SPIFFE ID and leaves the subscription as it was', () => {
    const { source, protocol } = setup();
    source.set('default', 'v1');
    protocol.handle(req());
    let caught: unknown;
    try {
      protocol.handle(req({ resourceNames: ['default', 'spiffe://cluster.local/other'] }));
    } catch (err) {
      caught = err;
    }
    expect(isWcaError(caught, 'ERR_PERMISSION_DENIED')).toBe(true);
    expect((caught as Error).message).toContain('spiffe://cluster.local/other');
    expect(source.watching('default')).toBe(1);
  });

  it('never sends a name that does not exist, reports it once, and keeps serving the rest', () => {
    const { source, protocol, sent, names, unknown } = setup();
    source.set('default', 'v1');
    source.set('ROOTCA', 'b1');
    protocol.handle(req({ resourceNames: ['defualt', 'ROOTCA'] }));
    expect(names(0)).toEqual(['ROOTCA']);
    expect(unknown.map((u) => u.name)).toEqual(['defualt']);
    expect(isWcaError(unknown[0]!.reason, 'ERR_SDS_UNKNOWN_RESOURCE')).toBe(true);
    // Envoy repeats the names in its ACK: not a change, not reported again, nothing resent.
    protocol.handle(req({ versionInfo: sent[0]!.versionInfo, responseNonce: sent[0]!.nonce, resourceNames: ['defualt', 'ROOTCA'] }));
    expect(sent).toHaveLength(1);
    expect(unknown).toHaveLength(1);
    // The typo fixed on the same stream.
    protocol.handle(req({ versionInfo: sent[0]!.versionInfo, responseNonce: sent[0]!.nonce, resourceNames: ['default'] }));
    expect(names(1)).toEqual(['default']);
  });

  it('stays silent (not yet) when the only name requested does not exist', () => {
    const { source, protocol, sent, unknown } = setup();
    source.set('default', 'v1');
    protocol.handle(req({ resourceNames: ['defualt'] }));
    source.set('default', 'v2');
    expect(sent).toHaveLength(0);
    expect(unknown).toHaveLength(1);
  });

  it('drops every watch on close', () => {
    const { source, protocol } = setup();
    protocol.handle(req({ resourceNames: ['default', 'ROOTCA'] }));
    protocol.close();
    expect(source.watching('default') + source.watching('ROOTCA')).toBe(0);
  });
});

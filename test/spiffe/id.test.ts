import { describe, it, expect } from 'vitest';
import { parseSpiffeId, parseSpiffeIdIn, parseTrustDomain, trustDomainId } from '../../src/spiffe/id.js';
import { WcaError } from '../../src/errors.js';

const problemOf = (input: string) => {
  try {
    parseSpiffeId(input);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(WcaError);
    expect((err as WcaError).code).toBe('ERR_SPIFFE_ID_INVALID');
    return (err as WcaError).details.reason;
  }
};

describe('parseSpiffeId follows the SPIFFE-ID specification', () => {
  it.each([
    ['spiffe://cluster.local', 'cluster.local', ''],
    ['spiffe://cluster.local/ns/shop/sa/cart', 'cluster.local', '/ns/shop/sa/cart'],
    ['spiffe://a-b_c.9/Upper.Case-ok_1', 'a-b_c.9', '/Upper.Case-ok_1'],
    ['spiffe://td/.../x..y/.hidden', 'td', '/.../x..y/.hidden'],
  ])('accepts %s', (input, td, path) => {
    const id = parseSpiffeId(input);
    expect(id).toEqual({ trustDomain: td, path, uri: input });
  });

  it.each([
    ['', 'empty'],
    ['http://cluster.local/x', 'wrong-scheme'],
    ['SPIFFE://cluster.local/x', 'scheme-not-lowercase'],
    ['spiffe:cluster.local', 'wrong-scheme'],
    ['spiffe://', 'missing-trust-domain'],
    ['spiffe:///path', 'missing-trust-domain'],
    ['spiffe://Cluster.Local/x', 'trust-domain-chars'],
    ['spiffe://clu$ter/x', 'trust-domain-chars'],
    ['spiffe://cluster.local:8080/x', 'port'],
    ['spiffe://user@cluster.local/x', 'userinfo'],
    ['spiffe://cluster.local/x?y=1', 'query'],
    ['spiffe://cluster.local/x#frag', 'fragment'],
    ['spiffe://cluster.local/a//b', 'empty-segment'],
    ['spiffe://cluster.local/', 'trailing-slash'],
    ['spiffe://cluster.local/a/', 'trailing-slash'],
    ['spiffe://cluster.local/a/./b', 'dot-segment'],
    ['spiffe://cluster.local/a/../b', 'dot-segment'],
    ['spiffe://cluster.local/a b', 'path-chars'],
    ['spiffe://cluster.local/caf%C3%A9', 'path-chars'],
    ['spiffe://cluster.local/ünicode', 'path-chars'],
    [`spiffe://${'a'.repeat(256)}/x`, 'trust-domain-too-long'],
    [`spiffe://td/${'a'.repeat(2040)}`, 'too-long'],
  ])('rejects %s (%s)', (input, reason) => {
    expect(problemOf(input)).toBe(reason);
  });

  it('says what was wrong and quotes at most a prefix of huge input', () => {
    const huge = `spiffe://td/${'a'.repeat(5000)}`;
    expect(() => parseSpiffeId(huge)).toThrow(/longer than 2048 bytes/);
    try {
      parseSpiffeId(huge);
    } catch (err) {
      expect((err as Error).message.length).toBeLessThan(300);
    }
  });

  it('requires membership of the expected trust domain', () => {
    expect(parseSpiffeIdIn('spiffe://cluster.local/x', 'cluster.local').path).toBe('/x');
    expect(() => parseSpiffeIdIn('spiffe://evil.local/x', 'cluster.local')).toThrow(
      expect.objectContaining({ code: 'ERR_TRUST_DOMAIN_MISMATCH' }),
    );
  });

  it('validates bare trust domain names', () => {
    expect(trustDomainId('cluster.local')).toBe('spiffe://cluster.local');
    for (const bad of ['', 'a:1', 'A.b', 'x@y']) {
      expect(() => parseTrustDomain(bad)).toThrow(expect.objectContaining({ code: 'ERR_SPIFFE_ID_INVALID' }));
    }
  });
});

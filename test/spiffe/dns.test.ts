import { describe, it, expect } from 'vitest';
import { parseDnsName, parseDnsNames } from '../../src/spiffe/dns.js';

describe('DNS SAN validation', () => {
  it.each([
    ['web.shop.svc.cluster.local', 'web.shop.svc.cluster.local'],
    ['Web.Example.COM', 'web.example.com'],
    ['*.example.com', '*.example.com'],
    ['a-1.b2', 'a-1.b2'],
  ])('accepts %s', (input, out) => expect(parseDnsName(input)).toBe(out));

  it.each([
    ['', /empty/],
    ['-a.example.com', /letters, digits and inner hyphens/],
    ['a-.example.com', /inner hyphens/],
    ['a..b', /empty label/],
    ['example.com.', /must not end/],
    ['*.com', /wildcard/],
    ['a.*.example.com', /wildcard/],
    ['foo*.example.com', /wildcard/],
    ['under_score.example.com', /letters, digits/],
    [`${'a'.repeat(64)}.com`, /longer than 63/],
    [`${'a.'.repeat(127)}com`, /longer than 253/],
    ['spiffe://x', /\(10 characters\): labels may contain only letters, digits/],
  ])('rejects %j', (input, why) => {
    expect(() => parseDnsName(input)).toThrow(why);
    expect(() => parseDnsName(input)).toThrow(expect.objectContaining({ code: 'ERR_DNS_NAME_INVALID' }));
  });

  it('dedupes and caps the list', () => {
    expect(parseDnsNames(['A.example.com', 'a.example.com'])).toEqual(['a.example.com']);
    expect(() => parseDnsNames(Array.from({ length: 33 }, (_, i) => `h${i}.example.com`))).toThrow(/too many DNS names/);
  });
});

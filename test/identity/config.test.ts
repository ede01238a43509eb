import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { identityConfigSchema } from '../../src/identity/config.js';

describe('identity config', () => {
  it('accepts every example in docs/identity.md', async () => {
    const doc = await readFile(new URL('../../docs/identity.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]+?)```/g)].map((m) => parse(m[1]!) as { identity: unknown });
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const block of blocks) {
      const result = identityConfigSchema.safeParse(block.identity);
      expect(result.error?.issues ?? []).toEqual([]);
    }
  });

  it('defaults to no rules (deny everything) and Kubernetes claim mapping', () => {
    const config = identityConfigSchema.parse({
      jwt: { issuers: [{ issuer: 'https://k8s', audiences: ['workload-ca'], keys: { discovery: true } }] },
    });
    expect(config.policy.rules).toEqual([]);
    expect(config.jwt?.issuers[0]).toMatchObject({
      algorithms: ['RS256', 'ES256'],
      clockSkew: 30,
      claims: { namespace: 'kubernetes.io/namespace', serviceAccount: 'kubernetes.io/serviceaccount/name' },
    });
  });

  it.each([
    ['a skew above 5 minutes', { jwt: { issuers: [{ issuer: 'https://k', audiences: ['a'], keys: { discovery: true }, clockSkew: '10m' }] } }],
    ['a JWKS over plain http to a remote host', { jwt: { issuers: [{ issuer: 'https://k', audiences: ['a'], keys: { jwksUri: 'http://keys.example/jwks' } }] } }],
    ['an issuer without audiences', { jwt: { issuers: [{ issuer: 'https://k', audiences: [], keys: { discovery: true } }] } }],
    ['the same issuer twice', { jwt: { issuers: [1, 2].map(() => ({ issuer: 'https://k', audiences: ['a'], keys: { discovery: true } })) } }],
    ['an unknown key', { jwt: { issuers: [{ issuer: 'https://k', audiences: ['a'], keys: { discovery: true }, secret: 'x' }] } }],
  ])('rejects %s', (_name, input) => {
    expect(identityConfigSchema.safeParse(input).success).toBe(false);
  });
});

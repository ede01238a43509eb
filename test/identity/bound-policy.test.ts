import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { BoundPolicy } from '../../src/identity/bound-policy.js';

const policy = new BoundPolicy({ trustDomain: 'cluster.local', maxTtlSeconds: 900 });

describe('BoundPolicy', () => {
  it('grants exactly the bound SPIFFE ID with the configured TTL and no DNS names', () => {
    const grant = policy.decide({ authenticator: 'unix', subject: 's', claims: {}, boundSpiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
    expect(grant).toMatchObject({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b', dnsNames: [], maxTtlSeconds: 900, rule: 'bound' });
  });

  it.each([
    { bound: undefined, why: 'not bound' },
    { bound: 'spiffe://other.domain/ns/a/sa/b', why: 'not in trust domain' },
    { bound: 'spiffe://cluster.local', why: 'trust domain ID' },
    { bound: 'not a spiffe id', why: 'must start with' },
  ])('denies $bound ($why)', ({ bound, why }) => {
    let caught: unknown;
    try {
      policy.decide({ authenticator: 'jwt', subject: 'who', claims: {}, ...(bound ? { boundSpiffeId: bound } : {}) });
    } catch (err) {
      caught = err;
    }
    expect(isWcaError(caught, 'ERR_PERMISSION_DENIED')).toBe(true);
    expect((caught as Error).message).toContain(why);
  });

  it('refuses a non-positive TTL', () => {
    expect(() => new BoundPolicy({ trustDomain: 'cluster.local', maxTtlSeconds: 0 })).toThrow(/positive/);
  });
});

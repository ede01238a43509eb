import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../../src/errors.js';
import { rulePolicyWithBuiltins } from '../../../src/identity/policy/builtin.js';
import { ruleSchema } from '../../../src/identity/policy/config.js';

const policy = rulePolicyWithBuiltins('cluster.local', [], 900);

const denial = (f: () => unknown): Error => {
  try {
    f();
  } catch (err) {
    expect(isWcaError(err, 'ERR_PERMISSION_DENIED')).toBe(true);
    return err as Error;
  }
  throw new Error('expected a denial');
};

describe('built-in bound-identity rule', () => {
  it.each(['unix', 'insecure-dev', 'join-token', 'mtls'])('grants a %s caller exactly its bound SPIFFE ID with the configured TTL', (authenticator) => {
    const grant = policy.decide({ authenticator, subject: 's', claims: {}, instance: 'i', boundSpiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
    expect(grant).toMatchObject({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b', dnsNames: [], maxTtlSeconds: 900, rule: 'builtin-bound-identity' });
  });

  it.each([
    [{ authenticator: 'jwt', boundSpiffeId: undefined }, /no policy rule matches/],
    [{ authenticator: 'unix', boundSpiffeId: undefined }, /cannot build a SPIFFE ID/],
    [{ authenticator: 'mtls', boundSpiffeId: 'spiffe://other.domain/ns/a/sa/b' }, /not in trust domain/],
  ])('denies %j', (caller, why) => {
    const err = denial(() => policy.decide({ subject: 'who', claims: {}, ...caller } as never));
    expect(err.message).toMatch(why);
  });

  it('comes after the configured rules, which decide first', () => {
    const narrow = ruleSchema.parse({ name: 'short-vm', match: { authenticator: 'join-token', bound: 'spiffe://cluster.local/vm/**' }, maxTtl: 60 });
    const p = rulePolicyWithBuiltins('cluster.local', [narrow], 900);
    expect(p.decide({ authenticator: 'join-token', subject: 't', claims: {}, instance: 'i', boundSpiffeId: 'spiffe://cluster.local/vm/db1' }).maxTtlSeconds).toBe(60);
    expect(p.decide({ authenticator: 'join-token', subject: 't', claims: {}, instance: 'i', boundSpiffeId: 'spiffe://cluster.local/ns/x' }).maxTtlSeconds).toBe(900);
  });
});

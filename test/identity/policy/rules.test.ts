import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../../src/errors.js';
import { policyConfigSchema } from '../../../src/identity/policy/config.js';
import { RulePolicy } from '../../../src/identity/policy/rules.js';
import type { Caller } from '../../../src/identity/types.js';

const policy = (rules: unknown[]) => new RulePolicy('cluster.local', policyConfigSchema.parse({ rules }));

const k8s = (namespace: unknown, serviceAccount: unknown, extra: Record<string, unknown> = {}): Caller => ({
  authenticator: 'jwt',
  subject: `system:serviceaccount:${String(namespace)}:${String(serviceAccount)}`,
  claims: { issuer: 'https://kubernetes.default.svc', audience: ['workload-ca'], namespace, serviceAccount, ...extra },
  instance: 'pod',
});
const bound = (authenticator: string, id: string, dnsNames: string[] = []): Caller => ({
  authenticator,
  subject: id,
  claims: { dnsNames },
  boundSpiffeId: id,
  instance: id,
});

const rules = [
  { name: 'kube-system-never', match: { authenticator: 'jwt', namespace: 'kube-system' }, spiffeId: 'spiffe://{{trustDomain}}/denied/never' },
  {
    name: 'shop',
    match: { authenticator: 'jwt', namespace: ['shop', 'shop-*'], audience: 'workload-ca' },
    dnsNames: ['{{serviceAccount}}.{{namespace}}.svc'],
    maxTtl: '1h',
  },
  { name: 'machines', match: { authenticator: ['join-token', 'mtls'], bound: 'spiffe://cluster.local/vm/**' }, maxTtl: '24h' },
];

describe('RulePolicy', () => {
  it.each([
    ['a Kubernetes workload gets Istio’s ID and its service DNS name', k8s('shop', 'cart'), 'spiffe://cluster.local/ns/shop/sa/cart', ['cart.shop.svc'], 3600, 'shop'],
    ['a glob matches a namespace family', k8s('shop-eu', 'cart'), 'spiffe://cluster.local/ns/shop-eu/sa/cart', ['cart.shop-eu.svc'], 3600, 'shop'],
    ['a joined machine gets its bound ID and DNS names', bound('join-token', 'spiffe://cluster.local/vm/db-1', ['db-1.vm.internal']), 'spiffe://cluster.local/vm/db-1', ['db-1.vm.internal'], 86400, 'machines'],
    ['a machine renews over mTLS', bound('mtls', 'spiffe://cluster.local/vm/eu/db-2'), 'spiffe://cluster.local/vm/eu/db-2', [], 86400, 'machines'],
  ])('grants: %s', (_name, caller, spiffeId, dnsNames, maxTtlSeconds, rule) => {
    const grant = policy(rules).decide(caller);
    expect(grant).toMatchObject({ spiffeId, dnsNames, maxTtlSeconds, rule });
    expect(grant.reason).toMatch(new RegExp(`^rule "${rule}" matched authenticator ${caller.authenticator}`));
  });

  it.each([
    ['no rules at all', [], k8s('shop', 'cart'), /no policy rule matches caller "system:serviceaccount:shop:cart" \(authenticator jwt\)/],
    ['an unmatched namespace', rules, k8s('payments', 'api'), /no policy rule matches/],
    ['a wrong audience', rules, k8s('shop', 'cart', { audience: ['vault'] }), /no policy rule matches/],
    ['a namespace claim forging a path', rules.slice(1), k8s('shop-x/sa/admin', 'cart'), /no policy rule matches/],
    [
      'a service account claim with ".."',
      [{ name: 'any', match: { authenticator: 'jwt' } }],
      k8s('shop', '..'),
      /claim "serviceAccount" = "\.\." is not a single path segment/,
    ],
    [
      'a service account claim with "/"',
      [{ name: 'any', match: { authenticator: 'jwt' } }],
      k8s('shop', 'cart/../../admin'),
      /claim "serviceAccount" = "cart\/..\/..\/admin" is not a single path segment/,
    ],
    ['a missing claim', [{ name: 'any', match: { authenticator: 'jwt' } }], k8s(undefined, 'cart'), /claim "namespace" is missing/],
    ['a machine outside the bound pattern', rules, bound('mtls', 'spiffe://cluster.local/ns/shop/sa/cart'), /no policy rule matches/],
    [
      'a bound caller asking for someone else’s ID',
      [{ name: 'bad', match: { authenticator: 'mtls' }, spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' }],
      bound('mtls', 'spiffe://cluster.local/vm/db-1'),
      /grants "spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart" but the credential is bound to "spiffe:\/\/cluster.local\/vm\/db-1"/,
    ],
    [
      'a bound ID from another trust domain',
      [{ name: 'machines', match: { authenticator: 'join-token' } }],
      bound('join-token', 'spiffe://evil.org/vm/db-1'),
      /built an unusable SPIFFE ID: SPIFFE ID "spiffe:\/\/evil.org\/vm\/db-1" is not in trust domain "cluster.local"/,
    ],
  ])('denies %s', (_name, ruleSet, caller, message) => {
    let err: unknown;
    try {
      policy(ruleSet).decide(caller);
    } catch (e) {
      err = e;
    }
    expect(isWcaError(err, 'ERR_PERMISSION_DENIED')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  it('lets the first matching rule decide', () => {
    expect(() => policy(rules).decide(k8s('kube-system', 'default'))).not.toThrow();
    expect(policy(rules).decide(k8s('kube-system', 'default')).rule).toBe('kube-system-never');
  });

  it.each([
    ['a malformed placeholder', { name: 'x', match: {}, spiffeId: 'spiffe://{{trustDomain}}/ns/{{namespace' }, /malformed placeholder/],
    ['{{bound}} mixed with text', { name: 'x', match: {}, spiffeId: '{{bound}}/extra' }, /must be the whole template/],
    ['a bad rule name', { name: 'has space', match: {} }, /rule names/],
    ['an unknown selector', { name: 'x', match: { pod: 'x' } }, /pod/],
  ])('rejects config with %s', (_name, rule, message) => {
    const result = policyConfigSchema.safeParse({ rules: [rule] });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toMatch(message);
  });

  it('rejects duplicate rule names', () => {
    expect(policyConfigSchema.safeParse({ rules: [{ name: 'a', match: {} }, { name: 'a', match: {} }] }).success).toBe(false);
  });
});

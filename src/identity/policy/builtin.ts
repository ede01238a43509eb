import type { Policy } from '../types.js';
import { RulePolicy } from './rules.js';
import { ruleSchema, type PolicyConfig, type RuleConfig } from './config.js';

/** Authenticators whose credential is bound to one SPIFFE ID by whoever issued it. */
const boundAuthenticators = ['unix', 'insecure-dev', 'join-token', 'mtls'] as const;

/**
 * A bound credential was issued for exactly one identity (by an operator, the admin
 * API or our own CA): it receives that identity, with no DNS names unless the
 * credential carries them. Appended after the configured rules.
 */
function boundIdentityRule(maxTtlSeconds: number): RuleConfig {
  return ruleSchema.parse({
    name: 'builtin-bound-identity',
    match: { authenticator: [...boundAuthenticators] },
    spiffeId: '{{bound}}',
    maxTtl: maxTtlSeconds,
  });
}

/** The configured rules, then the built-in bound-identity rule. */
export function rulePolicyWithBuiltins(trustDomain: string, rules: readonly RuleConfig[], maxTtlSeconds: number): Policy {
  return new RulePolicy(trustDomain, { rules: [...rules, boundIdentityRule(maxTtlSeconds)] } satisfies PolicyConfig);
}

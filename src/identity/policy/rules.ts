import { WcaError } from '../../errors.js';
import { limits } from '../../limits.js';
import { parseSpiffeIdIn } from '../../spiffe/id.js';
import { refuseReserved } from '../../spiffe/reserved.js';
import { parseDnsName } from '../../spiffe/dns.js';
import type { Caller, Grant, Policy } from '../types.js';
import { compileTemplate, type Template } from './template.js';
import { defaultSpiffeIdTemplate, type PolicyConfig, type RuleConfig } from './config.js';

type Match = RuleConfig['match'];
type Selector = Exclude<keyof Match, 'authenticator'>;

const boundTemplate = compileTemplate('{{bound}}', 'spiffe-id') as Template;
const kubernetesTemplate = compileTemplate(defaultSpiffeIdTemplate, 'spiffe-id') as Template;

/**
 * Deny-by-default rules: the first rule whose selectors all match the caller
 * decides, and a caller bound to a SPIFFE ID (mtls, join token) never receives any
 * other ID, whatever a rule says.
 */
export class RulePolicy implements Policy {
  constructor(
    private readonly trustDomain: string,
    private readonly config: PolicyConfig,
  ) {}

  decide(caller: Caller): Grant {
    const rule = this.config.rules.find((r) => matches(r.match, caller));
    if (!rule) {
      deny(`no policy rule matches caller "${caller.subject}" (authenticator ${caller.authenticator})`, caller);
    }
    return this.grant(rule, caller);
  }

  private grant(rule: RuleConfig, caller: Caller): Grant {
    const values = { ...caller.claims, trustDomain: this.trustDomain, bound: caller.boundSpiffeId };
    const template = rule.spiffeId ?? (caller.boundSpiffeId === undefined ? kubernetesTemplate : boundTemplate);
    const rendered = template.render(values);
    if (!rendered.ok) deny(`rule "${rule.name}" cannot build a SPIFFE ID from "${template.source}": ${rendered.reason}`, caller);
    let spiffeId: string;
    try {
      spiffeId = parseSpiffeIdIn(rendered.value, this.trustDomain).uri;
    } catch (err) {
      deny(`rule "${rule.name}" built an unusable SPIFFE ID: ${(err as Error).message}`, caller);
    }
    refuseReserved(spiffeId, this.trustDomain, `policy rule "${rule.name}" for caller "${caller.subject}"`);
    if (caller.boundSpiffeId !== undefined && spiffeId !== caller.boundSpiffeId) {
      deny(`rule "${rule.name}" grants "${spiffeId}" but the credential is bound to "${caller.boundSpiffeId}"`, caller);
    }
    return {
      spiffeId,
      dnsNames: this.dnsNames(rule, caller, values),
      maxTtlSeconds: rule.maxTtl,
      rule: rule.name,
      reason: `rule "${rule.name}" matched ${describeMatch(rule.match, caller)}`,
    };
  }

  private dnsNames(rule: RuleConfig, caller: Caller, values: Record<string, unknown>): string[] {
    const names: string[] = [];
    for (const template of rule.dnsNames) {
      const rendered = template.render(values);
      if (!rendered.ok) deny(`rule "${rule.name}" cannot build DNS name "${template.source}": ${rendered.reason}`, caller);
      names.push(rendered.value);
    }
    if (rule.boundDnsNames) names.push(...stringList(caller.claims.dnsNames));
    const unique = [...new Set(names)];
    if (unique.length > limits.dnsNamesPerCert) deny(`rule "${rule.name}" grants more than ${limits.dnsNamesPerCert} DNS names`, caller);
    try {
      return unique.map(parseDnsName);
    } catch (err) {
      deny(`rule "${rule.name}" built an invalid DNS name: ${(err as Error).message}`, caller);
    }
  }
}

function matches(match: Match, caller: Caller): boolean {
  if (match.authenticator && !match.authenticator.includes(caller.authenticator)) return false;
  return (Object.keys(match) as (keyof Match)[])
    .filter((k): k is Selector => k !== 'authenticator')
    .every((selector) => {
      const patterns = match[selector]!;
      return selectorValues(selector, caller).some((value) => patterns.some((p) => p.test(value)));
    });
}

function selectorValues(selector: Selector, caller: Caller): string[] {
  if (selector === 'subject') return [caller.subject];
  if (selector === 'bound') return caller.boundSpiffeId === undefined ? [] : [caller.boundSpiffeId];
  return stringList(caller.claims[selector]);
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function describeMatch(match: Match, caller: Caller): string {
  const parts = [`authenticator ${caller.authenticator}`];
  for (const key of Object.keys(match) as (keyof Match)[]) {
    if (key !== 'authenticator') parts.push(`${key} ${JSON.stringify(selectorValues(key, caller).join(','))}`);
  }
  return parts.join(', ');
}

function deny(reason: string, caller: Caller): never {
  throw new WcaError('ERR_PERMISSION_DENIED', `permission denied: ${reason}`, {
    details: { authenticator: caller.authenticator, subject: caller.subject },
  });
}

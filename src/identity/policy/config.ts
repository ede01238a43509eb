import { z } from 'zod';
import { duration } from '../../duration.js';
import { compileGlob, compileTemplate, type Template, type TemplateKind } from './template.js';

/** What a rule grants when it names no SPIFFE ID: the bound ID, else Istio's Kubernetes convention. */
export const defaultSpiffeIdTemplate = 'spiffe://{{trustDomain}}/ns/{{namespace}}/sa/{{serviceAccount}}';

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

const template = (kind: TemplateKind) =>
  z.string().transform((source, ctx): Template => {
    const compiled = compileTemplate(source, kind);
    if (typeof compiled === 'string') {
      ctx.addIssue({ code: 'custom', message: compiled });
      return z.NEVER;
    }
    return compiled;
  });

const globs = oneOrMany.transform((patterns) => patterns.map(compileGlob));

/** Every selector present must match (AND); a list matches any of its patterns (OR). */
const ruleMatchSchema = z
  .object({
    authenticator: oneOrMany.optional().describe('Authenticator names (jwt, tokenreview, mtls, join-token, unix, insecure-dev).'),
    issuer: globs.optional().describe('Patterns over the token issuer.'),
    namespace: globs.optional().describe('Patterns over the Kubernetes namespace.'),
    serviceAccount: globs.optional().describe('Patterns over the Kubernetes service account.'),
    audience: globs.optional().describe('Patterns over the token audience.'),
    subject: globs.optional().describe('Patterns over the token subject.'),
    bound: globs.optional().describe('Pattern over the caller\'s bound SPIFFE ID (mtls, join-token, unix).'),
  })
  .strict();

export const ruleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,64}$/, 'rule names are 1-64 letters, digits, ".", "-", "_"')
      .describe('Unique rule name, logged with each grant.'),
    match: ruleMatchSchema.describe('Selectors; every one present must match.'),
    spiffeId: template('spiffe-id')
      .optional()
      .describe('SPIFFE ID template granted; default the bound ID, else spiffe://{{trustDomain}}/ns/{{namespace}}/sa/{{serviceAccount}}.'),
    dnsNames: z.array(template('dns-name')).default([]).describe('DNS SAN templates, e.g. "{{serviceAccount}}.{{namespace}}.svc".'),
    boundDnsNames: z.boolean().default(true).describe('Also grant the DNS names the credential is bound to (join token, renewed SVID).'),
    maxTtl: duration.pipe(z.number().positive()).default(3600).describe('Longest leaf lifetime this rule grants.'),
  })
  .strict();

export const policyConfigSchema = z
  .object({ rules: z.array(ruleSchema).default([]).describe('Rules tried in order; the first match grants.') })
  .strict()
  .refine((p) => new Set(p.rules.map((r) => r.name)).size === p.rules.length, { message: 'rule names must be unique' })
  .prefault({});

export type RuleConfig = z.infer<typeof ruleSchema>;
export type PolicyConfig = z.infer<typeof policyConfigSchema>;

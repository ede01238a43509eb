import { z } from 'zod';
import { duration } from '../../config/duration.js';
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
    authenticator: oneOrMany.optional(),
    issuer: globs.optional(),
    namespace: globs.optional(),
    serviceAccount: globs.optional(),
    audience: globs.optional(),
    subject: globs.optional(),
    /** Pattern over the caller's bound SPIFFE ID (mtls, join-token, unix). */
    bound: globs.optional(),
  })
  .strict();

export const ruleSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9._-]{1,64}$/, 'rule names are 1-64 letters, digits, ".", "-", "_"'),
    match: ruleMatchSchema,
    spiffeId: template('spiffe-id').optional(),
    /** DNS SAN templates, e.g. "{{serviceAccount}}.{{namespace}}.svc". */
    dnsNames: z.array(template('dns-name')).default([]),
    /** Also grant the DNS names the credential is bound to (join token, renewed SVID). */
    boundDnsNames: z.boolean().default(true),
    maxTtl: duration.pipe(z.number().positive()).default(3600),
  })
  .strict();

export const policyConfigSchema = z
  .object({ rules: z.array(ruleSchema).default([]) })
  .strict()
  .refine((p) => new Set(p.rules.map((r) => r.name)).size === p.rules.length, { message: 'rule names must be unique' })
  .prefault({});

export type RuleConfig = z.infer<typeof ruleSchema>;
export type PolicyConfig = z.infer<typeof policyConfigSchema>;

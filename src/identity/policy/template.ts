/**
 * `{{name}}` templates for granted SPIFFE IDs and DNS names. Values come from
 * caller claims, i.e. from whoever minted the token, so each value is checked to
 * be exactly one path segment (or DNS label): a claim of "a/../b" must not be able
 * to forge another identity's path.
 */

const PLACEHOLDER = /\{\{\s*([a-zA-Z][a-zA-Z0-9]*)\s*\}\}/g;
const SEGMENT = /^[a-zA-Z0-9._-]+$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export type TemplateKind = 'spiffe-id' | 'dns-name';

export interface Template {
  readonly source: string;
  readonly kind: TemplateKind;
  readonly variables: readonly string[];
  /** Returns the rendered text, or a reason why the caller's values do not fit. */
  render(values: Readonly<Record<string, unknown>>): { ok: true; value: string } | { ok: false; reason: string };
}

/** Parses a template; returns a problem description for config errors instead of throwing. */
export function compileTemplate(source: string, kind: TemplateKind): Template | string {
  const variables = [...source.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  const rest = source.replace(PLACEHOLDER, '');
  if (rest.includes('{{') || rest.includes('}}')) return `"${source}": malformed placeholder (use {{name}})`;
  if (variables.includes('bound') && source.trim() !== '{{bound}}') {
    return `"${source}": {{bound}} must be the whole template`;
  }
  return {
    source,
    kind,
    variables,
    render(values) {
      let problem: string | undefined;
      const value = source.replace(PLACEHOLDER, (_whole, name: string) => {
        const raw = values[name];
        const checked = checkValue(name, raw, name === 'bound' || name === 'trustDomain' ? 'verbatim' : kind);
        if (typeof checked !== 'string') problem ??= checked.reason;
        return typeof checked === 'string' ? checked : '';
      });
      return problem === undefined ? { ok: true, value } : { ok: false, reason: problem };
    },
  };
}

function checkValue(name: string, raw: unknown, kind: TemplateKind | 'verbatim'): string | { reason: string } {
  if (typeof raw !== 'string' || raw.length === 0) return { reason: `claim "${name}" is missing` };
  if (kind === 'verbatim') return raw;
  const shown = JSON.stringify(raw.slice(0, 64));
  if (kind === 'spiffe-id' && (!SEGMENT.test(raw) || raw === '.' || raw === '..')) {
    return { reason: `claim "${name}" = ${shown} is not a single path segment` };
  }
  if (kind === 'dns-name' && !DNS_LABEL.test(raw)) {
    return { reason: `claim "${name}" = ${shown} is not a DNS label` };
  }
  return raw;
}

/** `*` matches within one path segment, `**` matches anything; everything else is literal. */
export function compileGlob(pattern: string): RegExp {
  const body = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
  return new RegExp(`^${body}$`);
}

/**
 * The configuration reference (docs/configuration.md), generated from the zod
 * schema the loader validates against, so the two cannot drift: every key with
 * its type, allowed values, bounds, default and the schema's own description.
 *
 *   npm run docs:config          rewrite docs/configuration.md
 *   test/config/reference.test.ts fails when the file and the schema differ
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';
import { duration } from '../src/duration.js';
import { listenAddress } from '../src/net/listen-address.js';
import { defOf, type ZodDef as Def } from '../src/config/zod-def.js';

export const referencePath = path.resolve(import.meta.dirname, '../docs/configuration.md');

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

/** Shared leaf types, named as a user writes them rather than by their zod shape. */
const named = new Map<unknown, string>([
  [duration, 'duration'],
  [listenAddress, 'listen address'],
]);


interface Meta {
  description?: string;
  /** For defaults computed at load time (the admin socket's depends on the user). */
  defaultText?: string;
}

const metaOf = (schema: z.ZodType): Meta => (z.globalRegistry.get(schema) as Meta | undefined) ?? {};

function bounds(def: Def): string {
  const parts: string[] = [];
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'greater_than') parts.push(`${c.inclusive ? '≥' : '>'} ${String(c.value)}`);
    if (c.check === 'less_than') parts.push(`${c.inclusive ? '≤' : '<'} ${String(c.value)}`);
    if (c.check === 'min_length') parts.push(c.minimum === 1 ? 'non-empty' : `at least ${String(c.minimum)} long`);
    if (c.check === 'number_format' && (c as { format?: string }).format === 'safeint') parts.push('integer');
  }
  return parts.length ? ` (${parts.join(', ')})` : '';
}

const units: [string, number][] = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];

/** 5400 → "1h30m": defaults shown as a user would write them. */
function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  if (!Number.isInteger(seconds)) return `${seconds * 1000}ms`;
  let rest = seconds;
  let text = '';
  for (const [unit, size] of units) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

function show(value: unknown, type: string): string {
  if (value === undefined) return '';
  if (type.startsWith('duration') && typeof value === 'number') return '`' + formatDuration(value) + '`';
  return '`' + JSON.stringify(value) + '`';
}

/** What the user writes, peeled of defaults, optionality, pipes and transforms. */
function typeName(schema: z.ZodType): string {
  const found = named.get(schema);
  if (found) return found;
  const def = defOf(schema);
  switch (def.type) {
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
      return typeName(def.innerType!);
    case 'pipe': {
      const inner = named.get(def.in) ?? typeName(def.in!);
      // `duration.pipe(z.number().max(60))`: the bounds live on the output side.
      const out = (def as unknown as { out: z.ZodType }).out;
      return defOf(out).type === 'number' && !named.has(out) ? inner + bounds(defOf(out)) : inner;
    }
    case 'enum':
      return Object.values(def.entries!).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal':
      return def.values!.map((v) => `\`${String(v)}\``).join(' \\| ');
    case 'array':
      return `list of ${typeName(def.element!)}`;
    case 'record':
      return `map of ${typeName(def.valueType!)}`;
    case 'union': {
      const names = [...new Set(def.options!.map(typeName))];
      return names.length === 1 && names[0] === 'object' ? 'object (one of the forms below)' : names.join(' or ');
    }
    case 'object':
      return 'object';
    case 'number':
    case 'string':
      return def.type + bounds(def);
    default:
      return def.type;
  }
}

function rowsOf(schema: z.ZodType, key: string, rows: Row[], inherited: Meta & { default?: unknown } = {}): void {
  const meta = { ...metaOf(schema) };
  const description = inherited.description ?? meta.description;
  const defaultText = inherited.defaultText ?? meta.defaultText;
  const def = defOf(schema);
  if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'nullable') {
    const dflt = def.type === 'default' || def.type === 'prefault' ? def.defaultValue : inherited.default;
    rowsOf(def.innerType!, key, rows, { description, defaultText, default: inherited.default ?? dflt });
    return;
  }
  if (def.type === 'pipe' && !named.has(schema) && defOf(def.in!).type === 'object') {
    rowsOf(def.in!, key, rows, { description, defaultText, default: inherited.default });
    return;
  }
  const objectDefault = typeof inherited.default === 'object' && inherited.default !== null && !Array.isArray(inherited.default);
  // A list of objects is described on the list's row; its element lists only its keys.
  if (key && !key.endsWith('[]')) {
    const type = typeName(schema);
    rows.push({
      key,
      type,
      default: defaultText ?? (objectDefault && Object.keys(inherited.default as object).length === 0 ? '' : show(inherited.default, type)),
      description: description ?? '',
    });
  }
  if (def.type === 'object') {
    for (const [name, child] of Object.entries(def.shape!)) rowsOf(child, key ? `${key}.${name}` : name, rows);
  } else if (def.type === 'array' && defOf(def.element!).type === 'object') {
    rowsOf(def.element!, `${key}[]`, rows);
  } else if (def.type === 'union') {
    // Alternatives that are objects (keyManager types, JWT key sources) each list their keys.
    for (const option of def.options!) {
      const inner = defOf(option).type === 'pipe' ? defOf(option).in! : option;
      if (defOf(inner).type === 'object') {
        for (const [name, child] of Object.entries(defOf(inner).shape!)) rowsOf(child, `${key}.${name}`, rows);
      }
    }
  }
}

/** A key in several union alternatives (`auth.mount`) gets one row, with each alternative's type and default. */
function unique(rows: Row[]): Row[] {
  const seen = new Map<string, Row>();
  for (const row of rows) {
    const had = seen.get(row.key);
    if (!had) seen.set(row.key, row);
    else {
      if (had.type !== row.type) had.type = `${had.type} \\| ${row.type}`;
      had.description ||= row.description;
      if (had.default !== row.default) had.default = [had.default || 'none', row.default || 'none'].join(' / ');
    }
  }
  return [...seen.values()];
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function configRows(): Row[] {
  const rows: Row[] = [];
  rowsOf(configSchema, '', rows);
  return unique(rows);
}

export function renderReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; a test fails when they differ. Do not edit by hand. -->',
    '',
    'Every key of the config file (`-c` or `$WCA_CONFIG`). Durations are `30s`, `15m`, `1h30m`, `7d`,',
    '`500ms` or a number of seconds; listen addresses are `host:port`, `[v6]:port` or',
    '`unix:/absolute/path`. Unknown keys are errors. `upstream.config` is the plugin\'s own',
    'configuration, documented with each plugin in [plugins/README.md](../plugins/README.md);',
    'relative paths in it are read against the config file\'s folder.',
    '',
    '| key | type | default | description |',
    '|---|---|---|---|',
    ...configRows().map((r) => `| \`${r.key}\` | ${r.type} | ${r.default} | ${cell(r.description)} |`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(referencePath, renderReference());
  process.stdout.write(`wrote ${path.relative(process.cwd(), referencePath)} (${configRows().length} keys)\n`);
}

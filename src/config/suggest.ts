import type { z } from 'zod';
import { defOf, type ZodDef as Def } from './zod-def.js';

/** The object schemas a value at `at` may be checked against (several under a union). */
function objectsAt(schema: z.ZodType, at: readonly PropertyKey[]): Def[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
      return objectsAt(def.innerType!, at);
    case 'pipe':
      return objectsAt(def.in!, at);
    case 'union':
      return def.options!.flatMap((option) => objectsAt(option, at));
    case 'array':
      return typeof at[0] === 'number' ? objectsAt(def.element!, at.slice(1)) : [];
    case 'object': {
      if (at.length === 0) return [def];
      const child = def.shape![String(at[0])];
      return child ? objectsAt(child, at.slice(1)) : [];
    }
    default:
      return [];
  }
}

function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[y.length]!;
}

/**
 * The known key an unknown one was probably meant to be (`leafTTL` → `leafTtl`,
 * `trustdomain` → `trustDomain`), or undefined when none is close.
 */
export function suggestKey(schema: z.ZodType, at: readonly PropertyKey[], unknown: string): string | undefined {
  const known = [...new Set(objectsAt(schema, at).flatMap((def) => Object.keys(def.shape!)))];
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = distance(unknown, key);
    if (!best || d < best.d) best = { key, d };
  }
  return best && best.d <= Math.max(2, Math.floor(unknown.length / 3)) ? best.key : undefined;
}

import { z } from 'zod';
import { shownValue } from './unsafe-text.js';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
/** One or more number+unit parts, largest unit first as Go's time.ParseDuration prints them: "1h30m", "2m30s". */
const COMPOUND = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const BARE = /^\d+(?:\.\d+)?$/;

/** "90s", "15m", "1h30m", "7d", a bare number of seconds ("900") or a number → seconds. */
export function parseDurationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const text = value.trim();
  if (BARE.test(text)) return Number(text);
  if (!COMPOUND.test(text)) return undefined;
  let seconds = 0;
  let lastUnit = Infinity;
  for (const [, amount, unit] of text.matchAll(PART)) {
    const size = UNITS[unit!]!;
    // "30m1h" or "1h1h" is a typo more often than a sum: refuse it.
    if (size >= lastUnit) return undefined;
    lastUnit = size;
    seconds += Number(amount) * size;
  }
  return seconds;
}

/** A zod type accepting a duration string or seconds, yielding seconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined || seconds < 0) {
    ctx.addIssue({ code: 'custom', message: `"${typeof value === 'string' ? shownValue(value) : value}" is not a duration (use e.g. 30s, 15m, 1h30m or seconds)` });
    return z.NEVER;
  }
  return seconds;
});

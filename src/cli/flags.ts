import { parseDurationSeconds } from '../duration.js';
import { WcaError } from '../errors.js';
import { replicaIdSchema } from '../state/replica-id.js';
import { shownValue } from '../unsafe-text.js';

/** A bad flag value is a usage error (exit 2) that names the flag, as the user typed it. */
export function flagError(flag: string, value: string, problem: string): WcaError {
  // The operator's own argument, but it may hold ESC or a newline (pasted): shown cut and escaped, as tables show cells.
  return new WcaError('ERR_USAGE', `${flag}: "${shownValue(value)}" ${problem}`, { details: { flag } });
}

export interface DurationBounds {
  /** Seconds, inclusive; default: more than zero. */
  min?: number;
  max?: number;
  /** Only whole seconds (what an API carrying seconds as an integer needs). */
  whole?: boolean;
}

const human = (seconds: number) => (seconds % 3600 === 0 ? `${seconds / 3600}h` : seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`);

/** Every duration flag reads like the config file: "90s", "15m", "1h30m" or seconds. */
export function durationFlag(flag: string, value: string, bounds: DurationBounds = {}): number {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined) throw flagError(flag, value, 'is not a duration (use e.g. 90s, 15m, 1h30m or seconds)');
  if (bounds.whole && !Number.isInteger(seconds)) throw flagError(flag, value, 'must be whole seconds');
  const min = bounds.min ?? Number.MIN_VALUE;
  if (seconds < min || (bounds.max !== undefined && seconds > bounds.max)) {
    const range = bounds.max === undefined ? `at least ${bounds.min === undefined ? 'more than 0s' : human(min)}` : `from ${human(bounds.min ?? 1)} to ${human(bounds.max)}`;
    throw flagError(flag, value, `must be ${range}`);
  }
  return seconds;
}

/** `--replica <id>`: checked here as the server checks it, so a typo is exit 2 naming the flag before anything is sent. */
export function replicaFlag(value: string | undefined): string {
  if (value === undefined) return '';
  const parsed = replicaIdSchema.safeParse(value);
  if (!parsed.success) throw flagError('--replica', value, parsed.error.issues[0]!.message);
  return parsed.data;
}

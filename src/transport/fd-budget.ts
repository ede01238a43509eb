import { readFileSync } from 'node:fs';
import { limits } from '../limits.js';

/** The soft RLIMIT_NOFILE (Node raises it to the hard limit at start), or undefined where /proc is missing. */
export function openFilesLimit(procLimits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(procLimits, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How many connections the SDS listener may hold: the hard cap, lowered so that
 * `limits.fdReserve` descriptors always stay free for the admin socket and the rest.
 */
export function sdsConnectionBudget(fdLimit: number | undefined): number {
  if (fdLimit === undefined) return limits.sdsConnectionsMax;
  return Math.max(1, Math.min(limits.sdsConnectionsMax, fdLimit - limits.fdReserve));
}

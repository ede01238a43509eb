/**
 * The timer a plugin should use: the context's injected clock when there is one
 * (tests move time instead of sleeping), else an unref'd setTimeout so a pending
 * renewal or backoff never keeps the process alive.
 */
import type { PluginContext } from '../types.js';

export type Schedule = (fn: () => void, ms: number) => () => void;

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const unrefTimer: Schedule = (fn, ms) => {
  const handle = setTimeout(fn, Math.min(Math.max(ms, 0), MAX_TIMEOUT_MS));
  handle.unref();
  return () => clearTimeout(handle);
};

export function scheduleFrom(context: Pick<PluginContext, 'schedule'>): Schedule {
  const injected = context.schedule;
  return injected ? (fn, ms) => injected.call(context, fn, ms) : unrefTimer;
}

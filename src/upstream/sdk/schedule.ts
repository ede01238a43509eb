/**
 * The timer a plugin should use: the context's injected clock when there is one
 * (tests move time instead of sleeping), else the system clock's unref'd timer so a pending
 * renewal or backoff never keeps the process alive.
 */
import type { PluginContext } from '../types.js';
import { systemClock } from '../../clock.js';

export type Schedule = (fn: () => void, ms: number) => () => void;

export function scheduleFrom(context: Pick<PluginContext, 'schedule'>): Schedule {
  const injected = context.schedule;
  return injected ? (fn, ms) => injected.call(context, fn, ms) : systemClock.schedule;
}

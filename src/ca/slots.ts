/**
 * Intermediate rotation thresholds as pure functions of time (SPIRE's scheme):
 * prepare the next intermediate at 1/2 of the active one's lifetime, activate it
 * at 5/6, keep the previous one as "old" until its leaves have expired.
 */

export interface Lifetime {
  notBeforeMs: number;
  notAfterMs: number;
}

export const prepareAt = (ca: Lifetime) => ca.notBeforeMs + (ca.notAfterMs - ca.notBeforeMs) / 2;
export const activateAt = (ca: Lifetime) => ca.notBeforeMs + ((ca.notAfterMs - ca.notBeforeMs) * 5) / 6;

export type SlotName = 'active' | 'next' | 'old';

export type RotationStep = 'prepare' | 'activate' | 'retire-old' | 'none';

/** What the rotator should do now, given the slots. */
export function rotationStep(slots: { active?: Lifetime; next?: Lifetime; old?: Lifetime }, nowMs: number): RotationStep {
  if (slots.old && slots.old.notAfterMs <= nowMs) return 'retire-old';
  if (!slots.active) return 'none';
  if (slots.next && nowMs >= activateAt(slots.active)) return 'activate';
  if (!slots.next && nowMs >= prepareAt(slots.active)) return 'prepare';
  return 'none';
}

/** When the next step is due (ms epoch), for scheduling the next tick. */
export function nextStepAt(slots: { active?: Lifetime; next?: Lifetime; old?: Lifetime }): number | undefined {
  const times: number[] = [];
  if (slots.old) times.push(slots.old.notAfterMs);
  if (slots.active) times.push(slots.next ? activateAt(slots.active) : prepareAt(slots.active));
  return times.length ? Math.min(...times) : undefined;
}

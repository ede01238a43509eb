import { activateAt, type Lifetime } from '../ca/slots.js';
import type { RotationStatus } from './rotator.js';
import type { Readiness } from '../telemetry/readiness.js';

/**
 * Readiness as a pure function of the slots, the time and rotation's record.
 *
 * Degraded is still ready (HTTP 200): the active intermediate is valid and keeps
 * issuing, and taking every replica out of service because a shared upstream is
 * down would turn an upstream failure into an outage. It is reported from the
 * point where a successor should have been active (5/6 of the lifetime), so
 * operators hear of it while a sixth of the lifetime is left, not when issuance stops.
 */
export function readiness(
  slots: { active?: Lifetime & { id: string }; next?: Lifetime },
  nowMs: number,
  rotation: RotationStatus,
): Readiness {
  const active = slots.active;
  if (!active) return { state: 'not-ready', reason: 'no active intermediate' };
  if (active.notAfterMs <= nowMs) return { state: 'not-ready', reason: 'active intermediate expired' };
  if (slots.next || nowMs < activateAt(active)) return { state: 'ready' };
  const left = Math.floor((active.notAfterMs - nowMs) / 1000);
  const failing = rotation.lastError
    ? `; ${rotation.consecutiveFailures} rotation failures in a row, last ${rotation.lastError.code}: ${rotation.lastError.message}`
    : '';
  return {
    state: 'degraded',
    reason:
      `rotation overdue: no successor intermediate; the active one (${active.id}) expires in ${left} s ` +
      `at ${new Date(active.notAfterMs).toISOString()}${failing}`,
  };
}

import { describe, expect, it } from 'vitest';
import { readiness } from '../../src/rotation/health.js';

const HOUR = 3600_000;
const active = { id: 'ca1', notBeforeMs: 0, notAfterMs: 6 * HOUR };
const failing = { consecutiveFailures: 3, lastError: { step: 'prepare' as const, code: 'ERR_UPSTREAM_TIMEOUT', message: 'no answer' } };

describe('readiness', () => {
  it.each([
    ['no intermediate yet', {}, 0, { consecutiveFailures: 0 }, 'not-ready'],
    ['an expired intermediate', { active }, 6 * HOUR, failing, 'not-ready'],
    ['rotation failing before the activation point', { active }, 5 * HOUR - 1, failing, 'ready'],
    ['a successor prepared', { active, next: active }, 5.5 * HOUR, failing, 'ready'],
    ['no successor at the activation point', { active }, 5 * HOUR, failing, 'degraded'],
    ['no successor and no recorded failure (a rotator that never finished)', { active }, 5 * HOUR, { consecutiveFailures: 0 }, 'degraded'],
  ] as const)('%s', (_name, slots, now, rotation, state) => {
    expect(readiness(slots, now, rotation).state).toBe(state);
  });

  it('names the remaining lifetime and the last failure when degraded', () => {
    const r = readiness({ active }, 5 * HOUR, failing);
    expect(r).toMatchObject({ state: 'degraded', reason: expect.stringContaining('expires in 3600 s') });
    expect(r.state === 'degraded' && r.reason).toContain('3 rotation failures in a row, last ERR_UPSTREAM_TIMEOUT: no answer');
  });
});

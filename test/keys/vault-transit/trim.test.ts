import { describe, it, expect } from 'vitest';
import { trimFloor } from '../../../plugins/vault-transit/trim.js';

const T = Date.UTC(2026, 10, 30, 12);
const h = 3600_000;

describe('trimFloor: which Transit key versions may go (pure, clock injected)', () => {
  it.each([
    { name: 'nothing expired yet: keep all', uses: [{ version: 1, neededUntilMs: T + h }, { version: 2, neededUntilMs: T + 2 * h }], latest: 2, min: 0, now: T, want: undefined },
    { name: 'the oldest intermediate expired: trim below the next', uses: [{ version: 1, neededUntilMs: T - 1 }, { version: 2, neededUntilMs: T + h }], latest: 2, min: 0, now: T, want: 2 },
    { name: 'expiry exactly now: the leaves are gone', uses: [{ version: 1, neededUntilMs: T }, { version: 2, neededUntilMs: T + h }], latest: 2, min: 0, now: T, want: 2 },
    { name: 'an old version still needed holds back everything above it', uses: [{ version: 1, neededUntilMs: T + h }, { version: 2, neededUntilMs: T - h }, { version: 3, neededUntilMs: T + h }], latest: 3, min: 0, now: T, want: undefined },
    { name: 'the latest version is always kept, even with nothing needed', uses: [{ version: 4, neededUntilMs: T - h }], latest: 5, min: 2, now: T, want: 5 },
    { name: 'a version not yet certified (Infinity) is kept', uses: [{ version: 3, neededUntilMs: Infinity }, { version: 2, neededUntilMs: T - h }], latest: 4, min: 1, now: T, want: 3 },
    { name: 'already trimmed to the floor: nothing to do', uses: [{ version: 3, neededUntilMs: T + h }], latest: 4, min: 3, now: T, want: undefined },
    { name: 'a single version: nothing to trim', uses: [{ version: 1, neededUntilMs: T - h }], latest: 1, min: 0, now: T, want: undefined },
  ])('$name', ({ uses, latest, min, now, want }) => {
    expect(trimFloor({ uses, latestVersion: latest, minAvailableVersion: min, nowMs: now })).toBe(want);
  });

  it('moving the clock past an intermediate lifetime is what allows the trim', () => {
    const uses = [{ version: 1, neededUntilMs: T + h }, { version: 2, neededUntilMs: T + 3 * h }];
    expect(trimFloor({ uses, latestVersion: 3, minAvailableVersion: 0, nowMs: T + h - 1 })).toBeUndefined();
    expect(trimFloor({ uses, latestVersion: 3, minAvailableVersion: 0, nowMs: T + h })).toBe(2);
    expect(trimFloor({ uses, latestVersion: 3, minAvailableVersion: 0, nowMs: T + 3 * h })).toBe(3);
  });
});

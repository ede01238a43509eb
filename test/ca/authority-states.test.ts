import { describe, it, expect } from 'vitest';
import { AuthorityStates, type Transition } from '../../src/ca/authority-states.js';
import { WcaError } from '../../src/errors.js';

const life = (id: string, notBeforeMs = 0) => ({ id, notBeforeMs, notAfterMs: notBeforeMs + 1000 });

function refusal(fn: () => unknown): { code: string; reason: unknown } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WcaError);
    return { code: (err as WcaError).code, reason: (err as WcaError).details.reason };
  }
  throw new Error('expected a refusal');
}

/** a active, b old, c prepared. */
function threeStates(log: Transition[] = []) {
  const s = new AuthorityStates((t) => log.push(t));
  s.start(life('a'), 0, 'first');
  s.prepare(life('b', 1), 1, 'scheduled rotation');
  s.activate('b', 2, 'scheduled rotation');
  s.prepare(life('c', 3), 3, 'operator');
  // a is old now, b active, c prepared
  return s;
}

describe('AuthorityStates transitions', () => {
  it('walks prepared → active → old → tainted → revoked and reports each transition', () => {
    const log: Transition[] = [];
    const s = threeStates(log);
    s.taint('a', 4, 'key exposure suspected');
    s.revoke('a', 5, { reason: 'confirmed' });
    expect(s.get('a').state).toBe('revoked');
    expect(s.get('b').state).toBe('active');
    expect(s.get('c').state).toBe('prepared');
    expect(log.filter((t) => t.id === 'a').map((t) => t.to)).toEqual(['prepared', 'active', 'old', 'tainted', 'revoked']);
    expect(log.at(-1)).toMatchObject({ from: 'tainted', to: 'revoked', atMs: 5, reason: 'confirmed' });
  });

  it.each([
    ['activate an active authority', (s: AuthorityStates) => s.activate('b', 9, 'x'), 'not-prepared'],
    ['activate an old authority', (s: AuthorityStates) => s.activate('a', 9, 'x'), 'not-prepared'],
    ['prepare while one is prepared', (s: AuthorityStates) => s.prepare(life('d'), 9, 'x'), 'already-prepared'],
    ['taint the active authority', (s: AuthorityStates) => s.taint('b', 9, 'x'), 'is-active'],
    ['taint a prepared authority', (s: AuthorityStates) => s.taint('c', 9, 'x'), 'not-old'],
    ['revoke the active authority', (s: AuthorityStates) => s.revoke('b', 9, { reason: 'x', force: true }), 'is-active'],
    ['revoke an old authority without --force', (s: AuthorityStates) => s.revoke('a', 9, { reason: 'x' }), 'not-tainted'],
    ['revoke --force without a reason', (s: AuthorityStates) => s.revoke('a', 9, { reason: '  ', force: true }), 'force-needs-reason'],
    ['revoke --force with an invisible reason (zero-width, Hangul filler)', (s: AuthorityStates) => s.revoke('a', 9, { reason: '\u200b\u200d\u3164\u00a0', force: true }), 'force-needs-reason'],
    ['revoke while subscribers hold leaves', (s: AuthorityStates) => s.revoke('a', 9, { reason: 'x', force: true, holders: 3 }), 'still-in-use'],
  ])('refuses to %s, changing nothing', (_name, act, reason) => {
    const s = threeStates();
    const before = s.list();
    expect(refusal(() => act(s))).toEqual({ code: 'ERR_AUTHORITY_TRANSITION', reason });
    expect(s.list()).toEqual(before);
  });

  it('refuses a second taint and a second revoke', () => {
    const s = threeStates();
    s.taint('a', 4, 'x');
    expect(refusal(() => s.taint('a', 5, 'x'))).toEqual({ code: 'ERR_AUTHORITY_TRANSITION', reason: 'not-old' });
    s.revoke('a', 5, { reason: 'x' });
    expect(refusal(() => s.revoke('a', 6, { reason: 'x', force: true }))).toEqual({ code: 'ERR_AUTHORITY_TRANSITION', reason: 'not-tainted' });
  });

  it('revokes an old authority with --force and a reason', () => {
    const s = threeStates();
    s.revoke('a', 4, { reason: 'decommissioned upstream', force: true });
    expect(s.get('a')).toMatchObject({ state: 'revoked', reason: 'decommissioned upstream' });
  });

  it('names an unknown authority with its own code', () => {
    expect(refusal(() => threeStates().taint('ffff', 1, 'x')).code).toBe('ERR_AUTHORITY_NOT_FOUND');
  });

  it('retires only expired authorities that no longer sign', () => {
    const s = threeStates();
    s.taint('a', 4, 'x');
    // Everything has expired by t=5000, but the active and prepared ones are never dropped here.
    expect(s.retireExpired(5000)).toEqual(['a']);
    expect(s.list().map((a) => [a.id, a.state])).toEqual([
      ['c', 'prepared'],
      ['b', 'active'],
    ]);
  });
});

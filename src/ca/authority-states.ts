import { WcaError, type ReasonOf } from '../errors.js';

/**
 * The life of each intermediate ("authority") as explicit states, and the only
 * transitions between them. Pure: no I/O, no keys, time passed in. The Authority
 * asks this module before it changes which CA signs; scheduled rotation and the
 * operator's admin calls go through the same transitions, so the same refusals
 * apply to both.
 *
 *   prepared ──activate──► active ──(next activated)──► old ──taint──► tainted ──revoke──► revoked
 *                                                          └──────────revoke --force + reason──┘
 */
export type AuthorityState = 'prepared' | 'active' | 'old' | 'tainted' | 'revoked';
export const authorityStates: readonly AuthorityState[] = ['prepared', 'active', 'old', 'tainted', 'revoked'];

/** Why a transition was refused: the `details.reason` of ERR_AUTHORITY_TRANSITION. */
export type TransitionRefusal = ReasonOf<'ERR_AUTHORITY_TRANSITION'>;

export interface AuthorityInfo {
  /** Hex of the intermediate's Subject Key Identifier. */
  readonly id: string;
  readonly state: AuthorityState;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** When it entered its current state. */
  readonly sinceMs: number;
  /** Why it entered its current state (operator's words, or "scheduled rotation"). */
  readonly reason: string;
}

export interface Transition {
  readonly id: string;
  readonly from: AuthorityState | undefined;
  /** 'retired': the record is dropped (its certificate expired). */
  readonly to: AuthorityState | 'retired';
  readonly atMs: number;
  readonly reason: string;
}

/**
 * A reason nobody can read: empty, or only spaces and characters that print as
 * nothing (zero-width and other format characters, Hangul and Braille blanks), which
 * trim() keeps.
 */
export function isBlankReason(reason: string): boolean {
  return /^[\s\p{Z}\p{Cf}\u115f\u1160\u2800\u3164\uffa0]*$/u.test(reason);
}

export function refused(id: string, reason: TransitionRefusal, message: string): WcaError {
  return new WcaError('ERR_AUTHORITY_TRANSITION', `authority ${id}: ${message}`, { details: { id, reason } });
}

export class AuthorityStates {
  private readonly records = new Map<string, AuthorityInfo>();

  constructor(private readonly onTransition: (t: Transition) => void = () => undefined) {}

  /** Every known authority, newest first (by when it was added: two minted in one second share a notBefore). */
  list(): AuthorityInfo[] {
    return [...this.records.values()].reverse();
  }

  get(id: string): AuthorityInfo {
    const found = this.records.get(id);
    if (!found) throw new WcaError('ERR_AUTHORITY_NOT_FOUND', `no authority ${id.slice(0, 80)} (see "workload-ca authority show")`, { details: { id: id.slice(0, 80) } });
    return found;
  }

  inState(state: AuthorityState): AuthorityInfo[] {
    return this.list().filter((a) => a.state === state);
  }

  /** The first authority becomes active at once: nothing serves before it. */
  start(lifetime: Lifetime, nowMs: number, reason: string): void {
    this.add(lifetime, nowMs, reason);
    this.activate(lifetime.id, nowMs, reason);
  }

  /** A new intermediate waits as "prepared"; only one may wait, so which one activates is never a guess. */
  prepare(lifetime: Lifetime, nowMs: number, reason: string): void {
    const waiting = this.inState('prepared')[0];
    if (waiting) throw refused(waiting.id, 'already-prepared', 'is already prepared; activate it first');
    this.add(lifetime, nowMs, reason);
  }

  /** prepared → active; the active one (if any) → old. Returns the previous active id. */
  activate(id: string, nowMs: number, reason: string): string | undefined {
    const target = this.get(id);
    if (target.state !== 'prepared') throw refused(id, 'not-prepared', `is ${target.state}; only a prepared authority can be activated`);
    const previous = this.inState('active')[0];
    if (previous) this.move(previous, 'old', nowMs, reason);
    this.move(target, 'active', nowMs, reason);
    return previous?.id;
  }

  /** old → tainted: its leaves are replaced at once. Never the active one (activate another first). */
  taint(id: string, nowMs: number, reason: string): void {
    const target = this.get(id);
    if (target.state === 'active') throw refused(id, 'is-active', 'is active; prepare and activate another authority first (or use "rotate --emergency")');
    if (target.state !== 'old') throw refused(id, 'not-old', `is ${target.state}; only an old authority can be tainted`);
    this.move(target, 'tainted', nowMs, reason);
  }

  /**
   * tainted → revoked, or (force, with a written reason) old/prepared → revoked.
   * Never the active one. `holders` is how many subscribers still hold a leaf under
   * it: revoking then would cut them off, so it is refused until they moved.
   */
  revoke(id: string, nowMs: number, options: { reason: string; force?: boolean; holders?: number }): void {
    const target = this.get(id);
    if (target.state === 'active') throw refused(id, 'is-active', 'is active and can never be revoked; activate another authority first');
    if (target.state === 'revoked') throw refused(id, 'not-tainted', 'is already revoked');
    if (target.state !== 'tainted') {
      if (!options.force) throw refused(id, 'not-tainted', `is ${target.state}; taint it first, or revoke with --force and a written --reason`);
      if (isBlankReason(options.reason)) throw refused(id, 'force-needs-reason', '--force needs a written --reason for the audit log');
    }
    if ((options.holders ?? 0) > 0) {
      throw refused(id, 'still-in-use', `${options.holders} subscriber(s) still hold a leaf under it; wait until they have moved (see "workload-ca authority show")`);
    }
    this.move(target, 'revoked', nowMs, options.reason);
  }

  /** Drops expired authorities that no longer sign (old, tainted, revoked); returns their ids. */
  retireExpired(nowMs: number): string[] {
    const gone: string[] = [];
    for (const a of this.list()) {
      if (a.notAfterMs > nowMs || a.state === 'active' || a.state === 'prepared') continue;
      this.records.delete(a.id);
      gone.push(a.id);
      this.onTransition({ id: a.id, from: a.state, to: 'retired', atMs: nowMs, reason: 'expired' });
    }
    return gone;
  }

  private add(lifetime: Lifetime, nowMs: number, reason: string): void {
    if (this.records.has(lifetime.id)) throw refused(lifetime.id, 'duplicate-id', 'an authority with this key identifier already exists');
    const info: AuthorityInfo = { id: lifetime.id, notBeforeMs: lifetime.notBeforeMs, notAfterMs: lifetime.notAfterMs, state: 'prepared', sinceMs: nowMs, reason };
    this.records.set(info.id, info);
    this.onTransition({ id: info.id, from: undefined, to: 'prepared', atMs: nowMs, reason });
  }

  private move(from: AuthorityInfo, to: AuthorityState, nowMs: number, reason: string): void {
    this.records.set(from.id, { ...from, state: to, sinceMs: nowMs, reason });
    this.onTransition({ id: from.id, from: from.state, to, atMs: nowMs, reason });
  }
}

export interface Lifetime {
  readonly id: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

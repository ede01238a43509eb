import { limits } from '../limits.js';
import type { Readiness } from './readiness.js';

/** One line of the readiness report: what was checked, whether it passed, and why not. */
export interface ServingCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ServingReport {
  /** 'draining' once shutdown began; otherwise the intermediate's readiness, downgraded to not-ready while a listener does not accept. */
  readonly state: Readiness['state'] | 'draining';
  /** Why not ready, or what is degraded; absent when ready. */
  readonly reason?: string;
  readonly checks: readonly ServingCheck[];
}

/** True when traffic should come here: ready, or degraded (still issuing, see rotation/health.ts). */
export const isServing = (report: ServingReport): boolean => report.state === 'ready' || report.state === 'degraded';

/**
 * Whether this process should receive traffic, for /readyz and grpc.health.v1:
 * every listener accepts connections, an intermediate is active, and no shutdown
 * has begun. Listeners are named up front, so one not started yet counts as not
 * accepting: /readyz said 200 while the SDS port was still closed (issue #11).
 */
export class ServingState {
  private readonly listeners = new Map<string, () => boolean>();
  private readonly notes = new Map<string, () => string | undefined>();
  private draining = false;
  private readonly watchers = new Set<{ last: boolean; notify: (serving: boolean) => void }>();
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly intermediate: () => Readiness,
    listenerNames: readonly string[],
  ) {
    for (const name of listenerNames) this.listeners.set(name, () => false);
  }

  /**
   * Where a named listener's accepting state comes from, once it is started; `note`
   * adds to its detail without changing readiness (a saturated connection cap: pulling
   * readiness for it would let an attacker drain every replica from the Service).
   */
  attach(name: string, accepting: () => boolean, note?: () => string | undefined): void {
    if (!this.listeners.has(name)) throw new Error(`unknown listener "${name}"`);
    this.listeners.set(name, accepting);
    if (note) this.notes.set(name, note);
  }

  /** Shutdown began: not ready from now on, and every watcher hears it at once. */
  drain(): void {
    this.draining = true;
    this.check();
  }

  report(): ServingReport {
    const checks: ServingCheck[] = [...this.listeners].map(([name, accepting]) => {
      if (!accepting()) return { name, ok: false, detail: 'not accepting connections' };
      const note = this.notes.get(name)?.();
      return { name, ok: true, detail: note ? `accepting connections (${note})` : 'accepting connections' };
    });
    const intermediate = this.intermediate();
    checks.push({ name: 'intermediate', ok: intermediate.state !== 'not-ready', detail: intermediate.state === 'ready' ? 'active' : intermediate.reason });
    if (this.draining) return { state: 'draining', reason: 'shutting down', checks };
    const failed = checks.filter((c) => !c.ok);
    if (failed.length > 0) return { state: 'not-ready', reason: failed.map((c) => `${c.name}: ${c.detail}`).join('; '), checks };
    return intermediate.state === 'degraded' ? { state: 'degraded', reason: intermediate.reason, checks } : { state: 'ready', checks };
  }

  serving(): boolean {
    return isServing(this.report());
  }

  /**
   * Calls notify with the serving state now and whenever it changes: at once on
   * drain, otherwise within limits.healthWatchPollMs (an intermediate expires with
   * no event). Returns the cancel function.
   */
  watch(notify: (serving: boolean) => void): () => void {
    const watcher = { last: this.serving(), notify };
    this.watchers.add(watcher);
    notify(watcher.last);
    if (!this.poll) {
      this.poll = setInterval(() => this.check(), limits.healthWatchPollMs);
      this.poll.unref();
    }
    return () => {
      this.watchers.delete(watcher);
      if (this.watchers.size === 0 && this.poll) {
        clearInterval(this.poll);
        this.poll = undefined;
      }
    };
  }

  private check(): void {
    if (this.watchers.size === 0) return;
    const serving = this.serving();
    for (const watcher of [...this.watchers]) {
      if (watcher.last === serving) continue;
      watcher.last = serving;
      watcher.notify(serving);
    }
  }
}

import type { Clock } from '../clock.js';
import type { Resource } from './types.js';

/**
 * Which authority (and which bundle) every connected subscriber is really using,
 * learned from the protocol itself: a response carries a nonce, and the client's
 * next request names that nonce with (ACK) or without (NACK) an error. The
 * operator sees sent vs acknowledged per authority, and emergency rotation and
 * root rotation wait on these numbers instead of guessing.
 *
 * A subscriber is one SDS stream. Counters are kept incrementally so that a
 * waiter's question ("has everyone moved?") costs O(1) per ACK, even with tens of
 * thousands of streams.
 */

/** What a sent resource carries, for the tracker: the authority of a certificate, or a bundle's version. */
export interface ResourceOrigin {
  caId?: string;
  bundleVersion?: string;
}

const origins = new WeakMap<Resource, ResourceOrigin>();

/** Tags an encoded resource with where it came from (done once per resource, where it is built). */
export function tagResource(resource: Resource, origin: ResourceOrigin): Resource {
  origins.set(resource, origin);
  return resource;
}

export interface AuthorityCounts {
  sent: number;
  acked: number;
  nacked: number;
}

export interface FleetSummary {
  /** Streams holding (sent or acknowledged) a certificate. */
  subscribers: number;
  /** Of those, how many acknowledged a certificate under the given authority. */
  converged: number;
  bundleSubscribers: number;
  bundleAcked: number;
}

/** Pending responses remembered per stream: Envoy answers each nonce in order, so a few suffice. */
const pendingMax = 8;
const nackedNodesMax = 20;

interface Side {
  sent?: string;
  acked?: string;
}

type CountKind = 'sent' | 'acked' | 'nacked';

export class ConvergenceTracker {
  private readonly counts = new Map<string, AuthorityCounts>();
  private readonly bundleAcked = new Map<string, number>();
  private readonly nackedBy = new Map<string, Set<string>>();
  private readonly waiters = new Set<() => void>();
  private withCert = 0;
  private withBundle = 0;

  constructor(private readonly options: { clock: Clock; onCount?: (authorityId: string, kind: CountKind, value: number) => void }) {}

  /** One per stream; `nodeId` names it in the NACK list. */
  subscriber(nodeId: string): SubscriberTrack {
    return new SubscriberTrack(this, nodeId);
  }

  countsFor(authorityId: string): AuthorityCounts {
    return { ...(this.counts.get(authorityId) ?? { sent: 0, acked: 0, nacked: 0 }) };
  }

  nackedNodes(authorityId: string): string[] {
    return [...(this.nackedBy.get(authorityId) ?? [])];
  }

  /** Streams still holding (sent or acknowledged) a certificate under this authority. */
  holders(authorityId: string): number {
    const c = this.counts.get(authorityId);
    return c ? c.sent + c.acked : 0;
  }

  bundleAcks(version: string): { acked: number; subscribers: number } {
    return { acked: this.bundleAcked.get(version) ?? 0, subscribers: this.withBundle };
  }

  summary(activeId: string | undefined, bundleVersion: string): FleetSummary {
    return {
      subscribers: this.withCert,
      converged: activeId ? (this.counts.get(activeId)?.acked ?? 0) : 0,
      bundleSubscribers: this.withBundle,
      bundleAcked: this.bundleAcked.get(bundleVersion) ?? 0,
    };
  }

  /**
   * Resolves when every stream holding a certificate acknowledged one under
   * `authorityId`, or at the deadline; with the counts either way.
   */
  waitForAuthority(authorityId: string, deadlineMs: number): Promise<{ subscribers: number; converged: number; complete: boolean }> {
    return this.waitFor(() => {
      const converged = this.counts.get(authorityId)?.acked ?? 0;
      return { subscribers: this.withCert, converged, complete: converged >= this.withCert };
    }, deadlineMs);
  }

  /** Resolves when `share` (0..1] of the streams subscribed to the bundle acknowledged `version`, or at the deadline. */
  waitForBundle(version: string, share: number, deadlineMs: number): Promise<{ subscribers: number; converged: number; complete: boolean }> {
    return this.waitFor(() => {
      const converged = this.bundleAcked.get(version) ?? 0;
      return { subscribers: this.withBundle, converged, complete: converged >= Math.ceil(this.withBundle * share) };
    }, deadlineMs);
  }

  private waitFor<T extends { complete: boolean }>(state: () => T, deadlineMs: number): Promise<T> {
    const now = state();
    if (now.complete) return Promise.resolve(now);
    return new Promise((resolve) => {
      const finish = () => {
        this.waiters.delete(check);
        cancel();
        resolve(state());
      };
      const check = () => {
        if (state().complete) finish();
      };
      this.waiters.add(check);
      const cancel = this.options.clock.schedule(finish, Math.max(0, deadlineMs - this.options.clock.now()));
    });
  }

  /** @internal SubscriberTrack's bookkeeping. */
  moveCert(before: Side, after: Side, nodeId: string, nackedCa: string | undefined): void {
    const had = before.sent !== undefined || before.acked !== undefined;
    const has = after.sent !== undefined || after.acked !== undefined;
    this.withCert += Number(has) - Number(had);
    if (before.sent !== after.sent) {
      this.bump(before.sent, 'sent', -1);
      this.bump(after.sent, 'sent', 1);
    }
    if (before.acked !== after.acked) {
      this.bump(before.acked, 'acked', -1);
      this.bump(after.acked, 'acked', 1);
    }
    if (nackedCa !== undefined) {
      this.bump(nackedCa, 'nacked', 1);
      let nodes = this.nackedBy.get(nackedCa);
      if (!nodes) this.nackedBy.set(nackedCa, (nodes = new Set()));
      if (nodes.size < nackedNodesMax) nodes.add(nodeId.slice(0, 128));
    }
    this.notify();
  }

  /** @internal */
  moveBundle(before: Side, after: Side): void {
    const had = before.sent !== undefined || before.acked !== undefined;
    const has = after.sent !== undefined || after.acked !== undefined;
    this.withBundle += Number(has) - Number(had);
    if (before.acked !== after.acked) {
      if (before.acked !== undefined) this.bundleAcked.set(before.acked, (this.bundleAcked.get(before.acked) ?? 1) - 1);
      if (after.acked !== undefined) this.bundleAcked.set(after.acked, (this.bundleAcked.get(after.acked) ?? 0) + 1);
      if (before.acked !== undefined && this.bundleAcked.get(before.acked) === 0) this.bundleAcked.delete(before.acked);
    }
    this.notify();
  }

  private bump(caId: string | undefined, kind: CountKind, delta: number): void {
    if (caId === undefined) return;
    let c = this.counts.get(caId);
    if (!c) this.counts.set(caId, (c = { sent: 0, acked: 0, nacked: 0 }));
    c[kind] += delta;
    this.options.onCount?.(caId, kind, c[kind]);
    if (c.sent === 0 && c.acked === 0 && c.nacked === 0) {
      this.counts.delete(caId);
      this.nackedBy.delete(caId);
    }
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }
}

/** One stream's view: what was sent under which nonce, and what the client acknowledged. */
export class SubscriberTrack {
  private readonly pending = new Map<string, ResourceOrigin[]>();
  private cert: Side = {};
  private bundle: Side = {};
  private closed = false;

  constructor(
    private readonly tracker: ConvergenceTracker,
    private readonly nodeId: string,
  ) {}

  /** A response left with this nonce. */
  sent(nonce: string, resources: readonly Resource[]): void {
    if (this.closed) return;
    const content = resources.flatMap((r) => {
      const o = origins.get(r);
      return o ? [o] : [];
    });
    if (content.length === 0) return;
    this.pending.set(nonce, content);
    if (this.pending.size > pendingMax) this.pending.delete(this.pending.keys().next().value!);
    for (const o of content) {
      if (o.caId !== undefined) this.setCert({ ...this.cert, sent: o.caId === this.cert.acked ? undefined : o.caId });
      if (o.bundleVersion !== undefined) this.setBundle({ ...this.bundle, sent: o.bundleVersion });
    }
  }

  /** The client answered a nonce: `rejected` is a NACK (it keeps what it had). */
  answered(nonce: string, rejected: boolean): void {
    const content = this.pending.get(nonce);
    if (this.closed || !content) return;
    this.pending.delete(nonce);
    for (const o of content) {
      if (o.caId !== undefined) {
        if (rejected) this.setCert({ ...this.cert, sent: undefined }, o.caId);
        else this.setCert({ sent: this.cert.sent === o.caId ? undefined : this.cert.sent, acked: o.caId });
      }
      if (o.bundleVersion !== undefined) {
        if (rejected) this.setBundle({ ...this.bundle, sent: undefined });
        else this.setBundle({ sent: this.bundle.sent === o.bundleVersion ? undefined : this.bundle.sent, acked: o.bundleVersion });
      }
    }
  }

  /** The stream ended: it no longer counts anywhere. */
  close(): void {
    if (this.closed) return;
    this.setCert({});
    this.setBundle({});
    this.closed = true;
    this.pending.clear();
  }

  private setCert(next: Side, nackedCa?: string): void {
    const before = this.cert;
    this.cert = next;
    this.tracker.moveCert(before, next, this.nodeId, nackedCa);
  }

  private setBundle(next: Side): void {
    const before = this.bundle;
    this.bundle = next;
    this.tracker.moveBundle(before, next);
  }
}

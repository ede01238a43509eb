/**
 * Fleet-wide authority actions. What an operator asks of one replica's admin API
 * (emergency rotation, taint, revoke) is applied there and appended to the shared
 * actions log; every other replica applies it when it reads it (LISTEN/NOTIFY, and
 * a catch-up read after a reconnect). Each replica signs with its own
 * intermediates, so an emergency rotation re-keys every replica, while a taint or
 * revoke names one authority and only the replica holding it acts.
 */
import { z } from 'zod';
import { backoffMs } from '../backoff.js';
import { isWcaError, WcaError } from '../errors.js';
import { authorityStates } from '../ca/authority-states.js';
import { limits } from '../limits.js';
import { liveStatuses } from '../state/replica-status.js';
import type { AuthorityAction, AuthorityActionKind, StateStore } from '../state/types.js';
import * as h from './authority-handler.js';
import type * as pb from './authority-proto.js';

export interface FleetOptions {
  store: Pick<StateStore, 'actions' | 'replicas'>;
  replicaId: string;
  authority: h.AuthorityAdminDeps;
}

export class FleetActions {
  private unsubscribe: (() => void) | undefined;
  private cancelRetry: (() => void) | undefined;
  private cancelWait: (() => void) | undefined;
  private stopped = false;
  private attempt = 0;
  /** Applied one at a time, in log order (emergency rotations coalesced, see enqueue). */
  private applying: Promise<void> = Promise.resolve();
  /** Emergency-rotate actions queued for one rotation that has not started yet: later ones join it. */
  private pendingRotation: AuthorityAction[] | undefined;
  /** Token bucket of fleet-applied rotations (limits.fleetEmergencyRotateBurst, refilled one per interval). */
  private rotationTokens: number = limits.fleetEmergencyRotateBurst;
  private tokensAtMs: number | undefined;

  constructor(private readonly options: FleetOptions) {}

  /** Applies actions appended from now on; what came before this replica started is history, not a request. */
  start(): void {
    const { store, authority } = this.options;
    store.actions.latestSeq().then(
      (seq) => {
        if (this.stopped) return;
        this.unsubscribe = store.actions.subscribe(seq, (action) => this.enqueue(action));
      },
      (err: unknown) => {
        if (this.stopped) return;
        authority.logger.warn({ err: (err as Error).message }, 'fleet actions: cannot read the log yet, retrying');
        this.cancelRetry = authority.clock.schedule(() => this.start(), backoffMs(++this.attempt, 500, 30_000));
      },
    );
  }

  stop(): void {
    this.stopped = true;
    this.cancelRetry?.();
    this.cancelWait?.();
    this.unsubscribe?.();
  }

  /**
   * Records an action for the other replicas (applied here already), or for `target`
   * alone. A failure to publish is an error the operator sees.
   */
  async publish(action: AuthorityActionKind, authorityId: string, reason: string, by: string, target?: string): Promise<AuthorityAction> {
    return this.options.store.actions.append({ action, authorityId, reason, by, origin: this.options.replicaId, ...(target === undefined ? {} : { target }) });
  }

  /** The ids of the replicas whose heartbeat has not expired (this one included once it has beaten). */
  async liveIds(): Promise<string[]> {
    return (await this.options.store.replicas.live()).map((r) => r.replicaId);
  }

  /**
   * Every live replica's status from its last heartbeat, for `authority show`. A row
   * is read as untrusted input: only the expected fields, of the expected types.
   */
  async replicas(): Promise<pb.ReplicaStatus[]> {
    return (await this.live()).map(replicaOf);
  }

  /** One replica's status as its last heartbeat gives it (`authority show --replica`); undefined when it has no readable row. */
  async statusOf(replicaId: string): Promise<pb.AuthorityStatus | undefined> {
    const r = (await this.live()).find((row) => row.replicaId === replicaId);
    if (r === undefined) return undefined;
    const s = r.status;
    return {
      authorities: replicaOf(r).authorities,
      bundle_version: text(s.bundle_version),
      subscribers: count(s.subscribers),
      converged: count(s.converged),
      bundle_acked: count(s.bundle_acked),
      bundle_subscribers: count(s.bundle_subscribers),
      replica: replicaId,
      replicas: [replicaOf(r)],
    };
  }

  /**
   * The state of `authorityId` on the live replica (other than this one; `on` alone
   * when given) that holds it, from the heartbeats. An authority id is a key's SKI:
   * two live replicas cannot both hold it, so two rows claiming it mean one is forged
   * (or a clone). Refused, never resolved by picking one.
   */
  async peerState(authorityId: string, on?: string): Promise<{ replicaId: string; state: string } | undefined> {
    const holders = (await this.live()).flatMap((r) => {
      if (r.replicaId === this.options.replicaId || (on !== undefined && r.replicaId !== on)) return [];
      const found = r.authorities.find((a) => a.id === authorityId);
      return found ? [{ replicaId: r.replicaId, state: found.state }] : [];
    });
    if (holders.length > 1) {
      const replicas = holders.slice(0, limits.replicaIdsListedMax).map((h) => h.replicaId);
      this.options.authority.logger.warn({ authorityId, replicas }, 'several live replicas claim one authority in their heartbeats: at most one is genuine');
      throw new WcaError('ERR_AUTHORITY_TRANSITION', `authority ${authorityId} is claimed by several live replicas (${replicas.join(', ')}): a heartbeat row is forged or a replica cloned; nothing sent (check the shared store)`, {
        details: { id: authorityId, reason: 'claimed-twice' },
      });
    }
    return holders[0];
  }

  /** Live rows with their authority entries read and checked (authorityOf); bad entries are dropped with one warning per read. */
  private async live() {
    let dropped = 0;
    const rows = (await liveStatuses(this.options.store.replicas, fleetStatus, this.options.authority.logger)).map((r) => {
      const authorities = r.status.authorities.flatMap((raw) => {
        const a = authorityOf(raw);
        if (a) return [a];
        dropped++;
        return [];
      });
      return { ...r, authorities };
    });
    if (dropped > 0) this.options.authority.logger.warn({ entries: dropped }, 'heartbeat authority entries with a malformed id or state dropped');
    return rows;
  }

  /**
   * Queues an action for this replica. Every emergency-rotate row would otherwise be an
   * upstream mint and a re-issue to every subscriber (300 rows, 300 rotations): those that
   * arrive while one is queued and not yet started join it, and rotations here are at
   * least limits.fleetEmergencyRotateMinIntervalMs apart, so a flood costs one rotation
   * per interval. A rotation re-keys whatever its rows asked; one rotation answers them all.
   */
  private enqueue(action: AuthorityAction): void {
    const { replicaId } = this.options;
    if (action.origin === replicaId) return;
    if (action.target !== undefined && action.target !== replicaId) return; // `--replica` named another one
    if (action.action !== 'emergency-rotate') {
      this.applying = this.applying.then(() => this.apply(action));
      return;
    }
    if (this.pendingRotation !== undefined) {
      this.pendingRotation.push(action);
      return;
    }
    const batch = [action];
    this.pendingRotation = batch;
    this.applying = this.applying.then(() => this.rotate(batch));
  }

  private async rotate(batch: AuthorityAction[]): Promise<void> {
    const { authority: deps } = this.options;
    const wait = this.takeRotationToken();
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        this.cancelWait = deps.clock.schedule(resolve, wait);
      });
    }
    // From here on, new rows start the next batch.
    this.pendingRotation = undefined;
    if (this.stopped) return;
    const first = batch[0]!;
    const last = batch.at(-1)!;
    const seqs = batch.map((a) => a.seq);
    const origins = [...new Set(batch.map((a) => a.origin))];
    // The audit trail of each transition says where it came from; the caller is in the log line and on the origin replica.
    const from = batch.length === 1 ? `fleet action ${first.seq}` : `fleet actions ${first.seq}..${last.seq} (${batch.length})`;
    const reason = `${from} from ${origins.slice(0, 3).join(', ')}: ${last.reason}`.slice(0, limits.adminReasonMaxLength);
    const log = deps.logger.child({
      fleetActions: seqs.slice(0, limits.fleetCoalescedSeqsLogged),
      coalesced: batch.length,
      action: 'emergency-rotate',
      origin: first.origin,
      by: first.by,
      ...(first.target ? { target: first.target } : {}),
    });
    try {
      // The shortest wait for subscribers: actions after this one must not queue behind convergence
      // (re-issue goes on regardless; `authority show` reports it).
      const done = await h.emergencyRotate(deps, { reason, deadline_seconds: 1 });
      log.warn({ newAuthority: done.new_authority_id, tainted: done.tainted_authority_id }, 'fleet emergency rotation applied');
    } catch (err) {
      log.error({ err: isWcaError(err) ? { code: err.code, message: err.message } : String(err) }, 'fleet action failed here');
    }
  }

  /** Spends one rotation; returns how long to wait first (0 while the burst lasts). */
  private takeRotationToken(): number {
    const interval = limits.fleetEmergencyRotateMinIntervalMs;
    const now = this.options.authority.clock.now();
    const elapsed = this.tokensAtMs === undefined ? 0 : now - this.tokensAtMs;
    this.tokensAtMs = now;
    this.rotationTokens = Math.min(limits.fleetEmergencyRotateBurst, this.rotationTokens + elapsed / interval) - 1;
    return this.rotationTokens >= 0 ? 0 : -this.rotationTokens * interval;
  }

  private async apply(action: AuthorityAction): Promise<void> {
    const { authority: deps } = this.options;
    // The audit trail of each transition says where it came from; the caller is in the log line and on the origin replica.
    const reason = `fleet action ${action.seq} from ${action.origin}: ${action.reason}`.slice(0, limits.adminReasonMaxLength);
    const log = deps.logger.child({ fleetAction: action.seq, action: action.action, origin: action.origin, by: action.by, ...(action.target ? { target: action.target } : {}) });
    try {
      if (!deps.authority.authorities().some((a) => a.id === action.authorityId)) return; // another replica's authority
      if (action.action === 'taint') deps.authority.taint(action.authorityId, reason);
      else deps.authority.revoke(action.authorityId, { reason, holders: deps.convergence.holders(action.authorityId) });
      log.warn({ authorityId: action.authorityId }, `fleet ${action.action} applied`);
    } catch (err) {
      log.error({ err: isWcaError(err) ? { code: err.code, message: err.message } : String(err) }, 'fleet action failed here');
    }
  }
}

/** Which state each forwarded transition starts from (authority-states.ts); others are refused here, not silently there. */
const fromState = { taint: 'old', revoke: 'tainted' } as const;
const refusal = { taint: 'not-old', revoke: 'not-tainted' } as const;

/**
 * Sends a taint or revoke of `id` to the live replica that holds it (`on` only, when
 * given: then to that replica alone), when its last heartbeat shows the authority in
 * the state the transition starts from (a forced revoke is done on the holder's own
 * socket). Returns the replica it was sent to; undefined when no such replica holds it.
 */
export async function sendToHolder(fleet: FleetActions, action: 'taint' | 'revoke', id: string, reason: string, by: string, on?: string): Promise<string | undefined> {
  const holder = await fleet.peerState(id, on);
  if (holder === undefined) return undefined;
  if (holder.state !== fromState[action]) {
    throw new WcaError('ERR_AUTHORITY_TRANSITION', `authority ${id} is ${String(holder.state)} on replica ${holder.replicaId}; ${action} needs it ${fromState[action]}`, {
      details: { id, replica: holder.replicaId, reason: refusal[action] },
    });
  }
  await fleet.publish(action, id, reason, by, on);
  return holder.replicaId;
}

/** `--replica X` named a replica that does not hold the authority: nothing changed, nothing sent. */
export function notOnReplica(id: string, replica: string, holder: string | undefined): WcaError {
  const where = holder === undefined ? 'no live replica holds it' : `replica ${holder} holds it`;
  return new WcaError('ERR_AUTHORITY_NOT_FOUND', `no authority ${id.slice(0, 80)} on replica ${replica} (${where}; see "workload-ca authority show")`, {
    details: { reason: 'not-on-replica', id: id.slice(0, 80), replica, ...(holder === undefined ? {} : { holder }) },
  });
}

/** Another live replica's status from its last heartbeat (`authority show --replica`). */
export async function peerStatus(fleet: FleetActions, replicaId: string): Promise<pb.AuthorityStatus> {
  const status = await fleet.statusOf(replicaId);
  if (status) return status;
  throw new WcaError('ERR_REPLICA_NOT_FOUND', `replica ${replicaId} is live but its last heartbeat has no readable status (see the server log)`, {
    details: { reason: 'unknown-replica', replica: replicaId },
  });
}

/** A heartbeat's status (app.ts) as far as the fleet view reads it; each authority entry is read field by field (authorityOf). */
const fleetStatus = z.object({
  authorities: z.array(z.unknown()).default([]),
  subscribers: z.unknown(),
  converged: z.unknown(),
  // Optional: rows of replicas from before `authority show --replica` may lack them.
  bundle_version: z.unknown().optional(),
  bundle_acked: z.unknown().optional(),
  bundle_subscribers: z.unknown().optional(),
});

function replicaOf(r: { replicaId: string; lastSeenMs: number; status: z.infer<typeof fleetStatus>; authorities: pb.Authority[] }): pb.ReplicaStatus {
  return {
    replica_id: r.replicaId,
    last_seen: new Date(r.lastSeenMs).toISOString(),
    authorities: r.authorities.slice(0, 16),
    subscribers: count(r.status.subscribers),
    converged: count(r.status.converged),
  };
}

const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32 ? v : 0);
const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, limits.adminReasonMaxLength) : '');

/** An authority id as we make them (lower-case hex SKI) and the states there are: anything else in a row is not ours. */
const authorityId = /^[0-9a-f]{2,128}$/;

function authorityOf(raw: unknown): pb.Authority | undefined {
  const a = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  if (typeof a.id !== 'string' || !authorityId.test(a.id)) return undefined;
  if (!(authorityStates as readonly unknown[]).includes(a.state)) return undefined;
  const s = (typeof a.subscribers === 'object' && a.subscribers !== null ? a.subscribers : {}) as Record<string, unknown>;
  return {
    id: a.id,
    state: a.state as string,
    not_before: text(a.not_before),
    not_after: text(a.not_after),
    since: text(a.since),
    reason: text(a.reason),
    subscribers: { sent: count(s.sent), acked: count(s.acked), nacked: count(s.nacked) },
    nacked_nodes: [],
  };
}

/**
 * `--replica X` (the `replica` field of an admin request): which replica an action
 * or a status is for. Empty: this replica and, with a shared store, the fleet.
 */
import { WcaError } from '../errors.js';
import { limits } from '../limits.js';
import { replicaIdSchema } from '../state/replica-id.js';
import type { FleetActions } from './fleet.js';

export type ReplicaTarget = { kind: 'fleet' } | { kind: 'self'; replicaId: string } | { kind: 'peer'; replicaId: string };

/**
 * Checks `raw` as a replica id (ERR_USAGE naming the field), then finds it: this
 * replica, or another one live in the shared store's membership. Anything else is
 * ERR_REPLICA_NOT_FOUND listing the live ids, before anything is changed or sent.
 */
export async function resolveReplica(raw: unknown, rpc: string, self: string | undefined, fleet: FleetActions | undefined): Promise<ReplicaTarget> {
  if (raw === undefined || raw === '') return { kind: 'fleet' };
  const parsed = replicaIdSchema.safeParse(raw);
  if (!parsed.success) throw new WcaError('ERR_USAGE', `invalid ${rpc} request: replica: ${parsed.error.issues[0]!.message}`);
  const replicaId = parsed.data;
  if (replicaId === self) return { kind: 'self', replicaId };
  const live = fleet ? await fleet.liveIds() : self === undefined ? [] : [self];
  if (fleet && live.includes(replicaId)) return { kind: 'peer', replicaId };
  throw unknownReplica(replicaId, live, fleet === undefined);
}

function unknownReplica(replicaId: string, live: readonly string[], alone: boolean): WcaError {
  // Ids come from rows anyone with write access to the table wrote: only printable ones are listed.
  const listable = live.filter((id) => replicaIdSchema.safeParse(id).success);
  const shown = listable.slice(0, limits.replicaIdsListedMax);
  const more = live.length - shown.length;
  const list = shown.length === 0 ? 'none' : shown.join(', ') + (more > 0 ? ` (and ${more} more)` : '');
  const where = alone ? 'state.store is memory: this process is the only replica' : 'not in the last heartbeats of the shared store';
  return new WcaError('ERR_REPLICA_NOT_FOUND', `replica ${replicaId} is not live (${where}); live replicas: ${list}`, {
    details: { reason: 'unknown-replica', replica: replicaId, live: shown },
  });
}

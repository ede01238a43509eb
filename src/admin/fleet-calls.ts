/**
 * The authority calls as a replica answers them: narrowed by `replica` (this one, or
 * another live one reached through the actions log), else for this replica and, with
 * a shared store, the fleet. server.ts only wires these to the RPCs.
 */
import { isWcaError, WcaError } from '../errors.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import * as h from './authority-handler.js';
import type * as pb from './authority-proto.js';
import { notOnReplica, peerStatus, sendToHolder, type FleetActions } from './fleet.js';
import { resolveReplica } from './replica-target.js';

export interface FleetCallDeps {
  authority: h.AuthorityAdminDeps;
  /** With a shared store. */
  fleet?: FleetActions;
  /** This replica's id (App.replicaId). */
  replicaId?: string;
  logger: Logger;
}

/** EmergencyRotate's answer when the rotation was sent to another replica: nothing rotated here. */
const notRotatedHere = { new_authority_id: '', tainted_authority_id: '', subscribers: 0, converged: 0, complete: false, waited_ms: 0 };

export function fleetCalls({ authority: a, fleet, replicaId, logger }: FleetCallDeps) {
  const self = replicaId === undefined ? {} : { replica: replicaId };
  const target = (r: pb.ReplicaNarrowing | undefined, rpc: string) => resolveReplica(r?.replica, rpc, replicaId, fleet);
  const ownStatus = () => ({ ...h.authorityStatus(a), ...self });

  /**
   * Taint or revoke: here, or sent to the replica that holds the authority. With
   * `replica` set, only that replica may hold it: otherwise nothing changes anywhere.
   */
  const transition = async (
    rpc: 'TaintAuthority' | 'RevokeAuthority',
    r: pb.AuthorityTransitionRequest,
    caller: string,
    local: () => pb.AuthorityStatus | Promise<pb.AuthorityStatus>,
  ): Promise<pb.AuthorityStatus> => {
    const action = rpc === 'TaintAuthority' ? 'taint' : 'revoke';
    const to = await target(r, rpc);
    if (to.kind === 'peer') {
      const { id, reason } = h.checkTransition(rpc, r);
      // Held here, it is not the named replica's, whatever a heartbeat row claims.
      const here = a.authority.authorities().some((x) => x.id === id);
      const sentTo = here ? undefined : await sendToHolder(fleet!, action, id, reason, caller, to.replicaId);
      if (sentTo === undefined) throw notOnReplica(id, to.replicaId, here ? replicaId : (await fleet!.peerState(id))?.replicaId);
      return { ...ownStatus(), sent_to: sentTo };
    }
    try {
      return { ...(await local()), ...self };
    } catch (err) {
      if (!isWcaError(err, 'ERR_AUTHORITY_NOT_FOUND')) throw err;
      if (to.kind === 'self') throw notOnReplica(r.id, to.replicaId, (await fleet?.peerState(r.id))?.replicaId);
      const sentTo = fleet ? await sendToHolder(fleet, action, r.id, r.reason, caller) : undefined;
      if (sentTo !== undefined) return { ...ownStatus(), sent_to: sentTo };
      throw err;
    }
  };

  return {
    async status(r: pb.GetAuthorityStatusRequest): Promise<pb.AuthorityStatus> {
      const to = await target(r, 'GetAuthorityStatus');
      if (to.kind === 'peer') return peerStatus(fleet!, to.replicaId);
      if (!fleet || to.kind === 'self') return ownStatus();
      // An unreachable store leaves the fleet part empty; this replica's own status is still the answer.
      const replicas = await fleet.replicas().catch(() => []);
      return { ...ownStatus(), replicas };
    },

    prepare: async (r: pb.PrepareAuthorityRequest): Promise<pb.AuthorityStatus> => ({ ...(await h.prepareAuthority(a, r)), ...self }),

    async activate(r: pb.AuthorityTransitionRequest): Promise<pb.AuthorityStatus> {
      // A plan (prepare, activate) is each replica's own: it is not carried by the actions log.
      if ((await target(r, 'ActivateAuthority')).kind === 'peer') {
        throw new WcaError('ERR_USAGE', `invalid ActivateAuthority request: replica: activate acts on this replica (${replicaId}) only; use that replica's own socket`);
      }
      return { ...h.activateAuthority(a, r), ...self };
    },

    taint: (r: pb.AuthorityTransitionRequest, caller: string) => transition('TaintAuthority', r, caller, () => h.taintAuthority(a, r)),
    // --upstream revokes at the upstream from the replica holding it; force is not carried.
    revoke: (r: pb.RevokeAuthorityRequest, caller: string) => transition('RevokeAuthority', r, caller, () => h.revokeAuthority(a, r)),

    async emergencyRotate(r: pb.EmergencyRotateRequest, caller: string): Promise<pb.EmergencyRotateResponse> {
      const checked = h.checkEmergencyRotate(r);
      const to = await target(r, 'EmergencyRotate');
      if (to.kind === 'peer') {
        // For that replica alone; a failure to record it is the answer (nothing happened anywhere).
        const sent = await fleet!.publish('emergency-rotate', '', checked.reason, caller, to.replicaId);
        return { ...notRotatedHere, replica: to.replicaId, sent: true, fleet_action_seq: sent.seq, fleet_reached: true, fleet_problem: '' };
      }
      // Published first, so the other replicas re-key while this one waits for its subscribers;
      // an unreachable store must not stop the re-key here, but the answer says the fleet was not reached.
      const published =
        to.kind === 'fleet' && fleet
          ? await fleet.publish('emergency-rotate', '', checked.reason, caller).then(
              (action) => ({ seq: action.seq, problem: '' }),
              (err: unknown) => {
                const problem = isWcaError(err) ? `${err.code}: ${err.message}` : 'the actions log could not be written';
                logger.error({ err: (err as Error).message }, 'emergency rotation NOT sent to the other replicas: rotate them one by one');
                return { seq: '', problem: problem.slice(0, limits.adminReasonMaxLength) };
              },
            )
          : { seq: '', problem: '' };
      return {
        ...(await h.emergencyRotate(a, r)),
        ...self,
        sent: false,
        fleet_action_seq: published.seq,
        fleet_reached: published.problem === '',
        fleet_problem: published.problem,
      };
    },
  };
}

/** Message shapes of the authority calls in admin.proto, as @grpc/proto-loader gives them (keepCase, longs as strings). */

export interface SubscriberCounts {
  sent: number;
  acked: number;
  nacked: number;
}

export interface Authority {
  id: string;
  state: string;
  not_before: string;
  not_after: string;
  since: string;
  reason: string;
  subscribers: SubscriberCounts;
  nacked_nodes: string[];
}

export interface AuthorityStatus {
  authorities: Authority[];
  bundle_version: string;
  subscribers: number;
  converged: number;
  bundle_acked: number;
  bundle_subscribers: number;
  /** Present (possibly empty) only from a server with a shared store; absent in a single process's status. */
  replicas?: ReplicaStatus[];
  /** The replica the other fields describe; absent from a server without a replica id. */
  replica?: string;
  /** A taint or revoke sent to this replica through the actions log (not done here). */
  sent_to?: string;
}

export interface ReplicaStatus {
  replica_id: string;
  last_seen: string;
  authorities: Authority[];
  subscribers: number;
  converged: number;
}

/** `replica` in a request: '' (or absent) for no narrowing. */
export interface ReplicaNarrowing {
  replica?: string;
}

export type GetAuthorityStatusRequest = ReplicaNarrowing;

export interface PrepareAuthorityRequest {
  reason: string;
}

export interface AuthorityTransitionRequest extends ReplicaNarrowing {
  id: string;
  reason: string;
}

export interface RevokeAuthorityRequest extends ReplicaNarrowing {
  id: string;
  reason: string;
  force: boolean;
  upstream: boolean;
}

export interface EmergencyRotateRequest extends ReplicaNarrowing {
  reason: string;
  deadline_seconds: number;
}

export interface EmergencyRotateResponse {
  new_authority_id: string;
  tainted_authority_id: string;
  subscribers: number;
  converged: number;
  complete: boolean;
  waited_ms: number;
  /** The replica that rotated, or the one it was sent to; absent from a server without a replica id. */
  replica?: string;
  /** Sent to `replica` through the actions log, not done here. */
  sent?: boolean;
  /** The actions-log seq of what other replicas were sent ('' when nothing). */
  fleet_action_seq?: string;
  /** False when a fleet-wide rotation was not recorded for the other replicas (fleet_problem says why). */
  fleet_reached?: boolean;
  fleet_problem?: string;
}

export interface GetBundleResponse {
  trust_domain: string;
  version: string;
  roots_pem: string[];
}

export interface ListAuditEventsRequest {
  limit: number;
  after_seq: string | number;
  types: string[];
}

export interface AuditEvent {
  seq: string;
  time: string;
  type: string;
  json: string;
}

export interface ListAuditEventsResponse {
  events: AuditEvent[];
}

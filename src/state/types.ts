import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * What replicas share, and nothing else: join-token hashes and their use, the
 * authority actions every replica must apply, and who is alive. No key material
 * ever goes in here. `memory` serves one process; `postgres` a fleet.
 */

/** A join token as stored: its SHA-256 hash, never the token. */
export interface StoredJoinToken {
  hash: string;
  /** Non-secret handle (a prefix of the hash) for audit logs. */
  id: string;
  spiffeId: string;
  dnsNames: readonly string[];
  expiresAtMs: number;
}

export interface JoinTokenGrant {
  id: string;
  spiffeId: string;
  dnsNames: readonly string[];
}

/** Why a presentation was refused, or what it granted. */
export type ConsumeResult =
  | { outcome: 'granted'; grant: JoinTokenGrant }
  | { outcome: 'unknown' }
  | { outcome: 'used'; id: string }
  | { outcome: 'expired'; id: string; expiresAtMs: number };

export interface JoinTokenRecords {
  /** Stores the token unless `max` tokens are live already (then false). */
  put(token: StoredJoinToken, max: number): Promise<boolean>;
  /**
   * Spends the token for `claimant` in one atomic step: of any number of concurrent
   * presentations, across processes, exactly one is granted. The same claimant may
   * present it again for `reuseWindowMs` after the first use.
   */
  consume(hash: string, claimant: string, reuseWindowMs: number): Promise<ConsumeResult>;
  /** Tokens neither used nor expired. */
  outstanding(): Promise<number>;
}

export const authorityActionKinds = ['taint', 'revoke', 'emergency-rotate'] as const;
export type AuthorityActionKind = (typeof authorityActionKinds)[number];

export interface AuthorityActionRequest {
  action: AuthorityActionKind;
  authorityId: string;
  reason: string;
  /** Who asked (the admin caller), for the audit trail. */
  by: string;
  /** The replica that took the request (and applied it already, unless it was meant for another). */
  origin: string;
  /** The one replica that applies it (`--replica`); absent: every replica but the origin. */
  target?: string;
}

export interface AuthorityAction extends AuthorityActionRequest {
  /**
   * Position in the log, increasing; a subscriber resumes after the last it saw.
   * Decimal digits of a PostgreSQL bigint, compared as BigInt: a JS number loses
   * precision above 2^53, and a row there would be read again on every notification.
   */
  seq: string;
  atMs: number;
}

export interface AuthorityActionLog {
  append(request: AuthorityActionRequest): Promise<AuthorityAction>;
  /** The newest seq ('0' for none): a replica starting applies only what comes after it. */
  latestSeq(): Promise<string>;
  /** Actions with seq > `afterSeq`, oldest first, at most `limit`. */
  since(afterSeq: string, limit?: number): Promise<AuthorityAction[]>;
  /**
   * Calls `listener` once per action appended after `afterSeq`, in order, including
   * those appended by other replicas and those missed while disconnected.
   */
  subscribe(afterSeq: string, listener: (action: AuthorityAction) => void): () => void;
}

export interface ReplicaRecord {
  replicaId: string;
  /** A small JSON summary (authorities, subscriber counts): no key material. */
  status: Readonly<Record<string, unknown>>;
  lastSeenMs: number;
}

export interface ReplicaMembership {
  /** Records this replica as alive for `ttlMs` with its status summary. */
  heartbeat(replicaId: string, status: Readonly<Record<string, unknown>>, ttlMs: number): Promise<void>;
  /** Replicas whose last heartbeat has not expired, by id; past limits.replicasMax, the most recently seen ones. */
  live(): Promise<ReplicaRecord[]>;
}

export type StoreHealth = { up: true } | { up: false; problem: string };

export interface StateStoreDeps {
  clock: Clock;
  logger: Logger;
  /** Where PGPASSWORD is read from (the injected environment). */
  env: Readonly<Record<string, string | undefined>>;
  /** Told each time the store goes up or down. */
  onHealth?: (health: StoreHealth) => void;
}

export interface StateStore {
  readonly kind: 'memory' | 'postgres';
  readonly joinTokens: JoinTokenRecords;
  readonly actions: AuthorityActionLog;
  readonly replicas: ReplicaMembership;
  /** Whether the shared state is reachable now (memory: always). */
  health(): StoreHealth;
  close(): Promise<void>;
}

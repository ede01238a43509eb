import type { Clock } from '../clock.js';
import type {
  AuthorityAction,
  AuthorityActionLog,
  AuthorityActionRequest,
  ConsumeResult,
  JoinTokenRecords,
  ReplicaMembership,
  ReplicaRecord,
  StateStore,
  StoredJoinToken,
} from './types.js';

interface TokenEntry extends StoredJoinToken {
  /** Set once used: the same claimant may present it again until `untilMs`. */
  spent?: { claimant: string; untilMs: number };
}

/**
 * One process's state, in memory: what a single replica has always done. Each
 * operation runs to completion without yielding, so check-and-mark is atomic.
 */
export class MemoryJoinTokens implements JoinTokenRecords {
  private readonly entries = new Map<string, TokenEntry>();

  constructor(private readonly clock: Clock) {}

  async put(token: StoredJoinToken, max: number): Promise<boolean> {
    this.prune();
    if (this.entries.size >= max) return false;
    this.entries.set(token.hash, { ...token, dnsNames: [...token.dnsNames] });
    return true;
  }

  async consume(hash: string, claimant: string, reuseWindowMs: number): Promise<ConsumeResult> {
    const entry = this.entries.get(hash);
    const now = this.clock.now();
    if (entry === undefined) return { outcome: 'unknown' };
    const grant = { id: entry.id, spiffeId: entry.spiffeId, dnsNames: entry.dnsNames };
    if (entry.spent) {
      return entry.spent.claimant === claimant && now < entry.spent.untilMs ? { outcome: 'granted', grant } : { outcome: 'used', id: entry.id };
    }
    if (now > entry.expiresAtMs) {
      this.entries.delete(hash);
      return { outcome: 'expired', id: entry.id, expiresAtMs: entry.expiresAtMs };
    }
    entry.spent = { claimant, untilMs: now + reuseWindowMs };
    return { outcome: 'granted', grant };
  }

  async outstanding(): Promise<number> {
    const now = this.clock.now();
    let count = 0;
    for (const entry of this.entries.values()) if (!entry.spent && now <= entry.expiresAtMs) count++;
    return count;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [hash, entry] of this.entries) {
      if (now > (entry.spent ? entry.spent.untilMs : entry.expiresAtMs)) this.entries.delete(hash);
    }
  }
}

class MemoryActionLog implements AuthorityActionLog {
  private readonly log: AuthorityAction[] = [];
  private readonly listeners = new Set<(action: AuthorityAction) => void>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries: number,
  ) {}

  async append(request: AuthorityActionRequest): Promise<AuthorityAction> {
    const last = this.log.at(-1);
    const action = Object.freeze({ ...request, seq: String(BigInt(last?.seq ?? 0) + 1n), atMs: this.clock.now() });
    this.log.push(action);
    // Bounded: a subscriber only ever needs what it has not seen, and in one process it sees everything at once.
    if (this.log.length > this.maxEntries) this.log.splice(0, this.log.length - this.maxEntries);
    for (const listener of this.listeners) listener(action);
    return action;
  }

  async latestSeq(): Promise<string> {
    return this.log.at(-1)?.seq ?? '0';
  }

  async since(afterSeq: string, limit = this.maxEntries): Promise<AuthorityAction[]> {
    const after = BigInt(afterSeq);
    return this.log.filter((a) => BigInt(a.seq) > after).slice(0, limit);
  }

  subscribe(afterSeq: string, listener: (action: AuthorityAction) => void): () => void {
    const after = BigInt(afterSeq);
    for (const action of this.log) if (BigInt(action.seq) > after) listener(action);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

class MemoryMembership implements ReplicaMembership {
  private readonly replicas = new Map<string, ReplicaRecord & { expiresAtMs: number }>();

  constructor(private readonly clock: Clock) {}

  async heartbeat(replicaId: string, status: Readonly<Record<string, unknown>>, ttlMs: number): Promise<void> {
    const now = this.clock.now();
    this.replicas.set(replicaId, { replicaId, status: structuredClone(status), lastSeenMs: now, expiresAtMs: now + ttlMs });
  }

  async live(): Promise<ReplicaRecord[]> {
    const now = this.clock.now();
    return [...this.replicas.values()]
      .filter((r) => r.expiresAtMs > now)
      .sort((a, b) => a.replicaId.localeCompare(b.replicaId))
      .map(({ replicaId, status, lastSeenMs }) => ({ replicaId, status, lastSeenMs }));
  }
}

export function createMemoryStore(clock: Clock, options: { maxActions: number }): StateStore {
  return {
    kind: 'memory',
    joinTokens: new MemoryJoinTokens(clock),
    actions: new MemoryActionLog(clock, options.maxActions),
    replicas: new MemoryMembership(clock),
    health: () => ({ up: true }),
    close: async () => undefined,
  };
}

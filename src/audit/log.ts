import type { Clock } from '../clock.js';
import { limits } from '../limits.js';
import type { AuditEvent, AuditRecord, AuditType } from './events.js';
import type { AuditSink } from './sink.js';

/** Where subsystems report auditable facts; the no-op one is used when no audit log is wired. */
export interface Auditor {
  record(event: AuditEvent): void;
}

export const noAudit: Auditor = { record: () => undefined };

/**
 * toISOString with a one-entry memory: a burst of issuances shares the same
 * millisecond (event time) or second (leaf not-after), so the same string.
 */
export function isoFormatter(): (ms: number) => string {
  let lastMs = Number.NaN;
  let lastIso = '';
  return (ms) => {
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    return lastIso;
  };
}

/**
 * The audit log: numbers and timestamps each event, writes it to the sink as one
 * JSON line, and keeps the latest ones in a bounded ring for `audit tail`.
 */
export class AuditLog implements Auditor {
  private readonly ring: (AuditRecord | undefined)[];
  private seq = 0;
  private readonly timeOf = isoFormatter();

  constructor(
    private readonly options: { clock: Clock; sink?: AuditSink; ringSize?: number },
  ) {
    this.ring = new Array(Math.min(Math.max(options.ringSize ?? limits.auditRingMax, 1), limits.auditRingMax));
  }

  /** Takes ownership of `event` (callers build it fresh): numbering it in place spares a copy per issuance. */
  record(event: AuditEvent): void {
    const record = event as AuditRecord;
    record.seq = ++this.seq;
    record.time = this.timeOf(this.options.clock.now());
    this.ring[record.seq % this.ring.length] = record;
    this.options.sink?.write(record);
  }

  /** Up to `limit` latest events (oldest first), optionally only those after `afterSeq` or of some types. */
  tail(options: { limit?: number; afterSeq?: number; types?: readonly AuditType[] } = {}): AuditRecord[] {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), limits.auditTailMax);
    const after = Math.max(options.afterSeq ?? 0, this.seq - this.ring.length);
    const types = options.types?.length ? new Set(options.types) : undefined;
    const out: AuditRecord[] = [];
    for (let seq = this.seq; seq > after && out.length < limit; seq--) {
      const r = this.ring[seq % this.ring.length];
      if (r && r.seq === seq && (!types || types.has(r.type))) out.push(r);
    }
    return out.reverse();
  }

  get lastSeq(): number {
    return this.seq;
  }
}

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
 * The audit log: numbers and timestamps each event, writes it to the sink as one
 * JSON line, and keeps the latest ones in a bounded ring for `audit tail`.
 */
export class AuditLog implements Auditor {
  private readonly ring: (AuditRecord | undefined)[];
  private seq = 0;

  constructor(
    private readonly options: { clock: Clock; sink?: AuditSink; ringSize?: number },
  ) {
    this.ring = new Array(Math.min(Math.max(options.ringSize ?? limits.auditRingMax, 1), limits.auditRingMax));
  }

  record(event: AuditEvent): void {
    const record = { ...event, seq: ++this.seq, time: new Date(this.options.clock.now()).toISOString() } as AuditRecord;
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

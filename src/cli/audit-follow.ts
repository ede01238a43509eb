import type { AdminClient } from '../admin/client.js';
import type { AuditEvent } from '../admin/authority-proto.js';
import { limits } from '../limits.js';

export interface FollowOptions {
  /** Last sequence number already printed; only later events are fetched. */
  afterSeq: number;
  types: string[];
  /** Ends the loop (Ctrl-C, SIGTERM, a test). */
  signal: AbortSignal;
  intervalMs?: number;
  print(events: readonly AuditEvent[]): void;
  /** Told how many events the server's ring dropped before this follower saw them. */
  missed(count: number, afterSeq: number): void;
}

/**
 * `audit tail --follow`: polls ListAuditEvents with a since-seq cursor. Polling,
 * not a server stream, so a follower holds nothing on the server between calls: one
 * unary call per interval, bounded like every other admin call, and any number of
 * followers cost the ring nothing. Ends cleanly when `signal` aborts.
 */
export async function followAudit(client: Pick<AdminClient, 'listAuditEvents'>, options: FollowOptions): Promise<void> {
  let cursor = options.afterSeq;
  const interval = options.intervalMs ?? limits.auditFollowPollMs;
  while (!options.signal.aborted) {
    await sleep(interval, options.signal);
    if (options.signal.aborted) return;
    const { events } = await client.listAuditEvents({ limit: limits.auditTailMax, after_seq: cursor, types: options.types });
    if (events.length === 0) continue;
    // The ring answers the latest events after the cursor; without a type filter, a jump in seq is events it no longer holds.
    const first = Number(events[0]!.seq);
    if (options.types.length === 0 && first > cursor + 1) options.missed(first - cursor - 1, cursor);
    options.print(events);
    cursor = Number(events.at(-1)!.seq);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

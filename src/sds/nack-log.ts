import { limits } from '../limits.js';
import { untrustedText } from '../telemetry/untrusted-text.js';
import type { Log } from './stream-log.js';
import type { ErrorDetail } from './types.js';

/**
 * One stream's NACK log: the 1st, 2nd, 4th, 8th… NACK is logged with the running
 * count, so a client that NACKs thousands of times writes a dozen lines, and the
 * stream's end reports how many went unlogged. Every NACK is still counted in
 * metrics by the caller.
 */
export class NackLog {
  private count = 0;
  private logged = 0;

  constructor(private readonly log: Log) {}

  record(names: readonly string[], detail: ErrorDetail, response: Record<string, unknown>): void {
    this.count++;
    if ((this.count & (this.count - 1)) !== 0) return;
    this.logged = this.count;
    this.log.warn(
      {
        resources: names.slice(0, 8).map((name) => untrustedText(name, 128)),
        // A SotW client's version_info is its own text too.
        ...Object.fromEntries(Object.entries(response).map(([k, v]) => [k, typeof v === 'string' ? untrustedText(v, 128) : v])),
        nacks: this.count,
        errorCode: detail.code,
        errorDetail: untrustedText(detail.message, limits.sdsNackDetailLoggedMax),
      },
      'sds: client rejected secrets (NACK)',
    );
  }

  /** The stream ended: say how many NACKs were not logged, if any. */
  close(): void {
    if (this.count === this.logged) return;
    this.log.warn({ nacks: this.count, unlogged: this.count - this.logged }, 'sds: stream ended after NACKs not all logged');
    this.logged = this.count;
  }
}

import { limits } from '../limits.js';
import type { Log } from './stream-log.js';
import type { ErrorDetail } from './types.js';

// Key material a client might echo back: PEM blocks (cut ones too) and long base64 or hex runs.
const pemBlock = /-----BEGIN[^\n]*?-----[\s\S]*?(?:-----END[^\n]*?-----|$)/g;
const longEncodedRun = /[A-Za-z0-9+/=_-]{40,}/g;
/**
 * 40+ base64 characters of random bytes mix cases (a run without both is ~1e-9 likely);
 * hex is all hex digits. Kubernetes names and SPIFFE paths are lower case, so a
 * long `ns/…/sa/…` stays readable.
 */
const looksEncoded = (run: string) => /^[0-9a-fA-F]+$/.test(run) || (/[A-Z]/.test(run) && /[a-z]/.test(run));
// Controls, line and paragraph separators, bidi overrides, lone surrogates: anything that rewrites how a log line reads.
const unsafe = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text a client sent, made fit for a log line: key-like material redacted, then
 * cut to `maxChars`, then every character that could forge or hide log content
 * written as a \uXXXX escape.
 */
export function untrustedText(text: string, maxChars: number): string {
  const redacted = text.replace(pemBlock, '[PEM redacted]').replace(longEncodedRun, (run) => (looksEncoded(run) ? '[redacted]' : run));
  const cut = redacted.length > maxChars ? `${redacted.slice(0, maxChars)}…` : redacted;
  return cut.replace(unsafe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

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

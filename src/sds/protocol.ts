import type { Log } from './stream-log.js';
import type { UnknownName } from './subscription.js';
import type { ErrorDetail, ResourceSource } from './types.js';

/** One stream's xDS state machine: requests in, responses out through `send`. */
export interface Protocol<Request> {
  /** Throws a WcaError when the request must end the stream (denied or malformed). */
  handle(request: Request): void;
  close(): void;
}

export interface ProtocolDeps<Response> {
  source: ResourceSource;
  send(response: Response): void;
  logger: Log;
  /** Called once per NACK with the names it covers and the response it answers (version, nonce), to count and log it. */
  onNack?(names: readonly string[], detail: ErrorDetail, response: Record<string, unknown>): void;
  /** Called when a name that will never exist joins the subscription (logged and counted, never fatal). */
  onUnknown?(unknown: UnknownName): void;
}

/** Holds back change notifications while a request is handled, then flushes once. */
export class Batch {
  private depth = 0;

  constructor(private readonly flush: () => void) {}

  changed(): void {
    if (this.depth === 0) this.flush();
  }

  run(body: () => void): void {
    this.depth++;
    try {
      body();
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.flush();
  }
}

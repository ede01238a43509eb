/**
 * Coalesces concurrent signing requests to a remote key into batch calls: a
 * batch leaves when it holds `maxSize` items or `maxDelayMs` after its first
 * item (0: at the end of the current event-loop turn), and at most `maxInFlight` calls run at once (items wait here meanwhile,
 * so batches grow under load instead of calls piling up at the backend).
 * With maxSize 1 every item is its own call (batching off).
 *
 * Every call has a total deadline (`timeoutMs`): when it passes, the call's
 * signal aborts, its items fail with ERR_UPSTREAM_TIMEOUT and its in-flight slot
 * is free again even if `send` never settles, so a backend that trickles or
 * hangs cannot stop signing for good.
 */
import { WcaError } from '../errors.js';
import { limits } from '../limits.js';

export const batchSizeMax = limits.keySignBatchMax;
export const callsInFlightMax = limits.keySignCallsInFlightMax;

export interface BatcherOptions {
  maxSize: number;
  maxDelayMs: number;
  maxInFlight: number;
  /** Total deadline of one call, from send to its answer. */
  timeoutMs: number;
  /** Told about every call: how many items it carried and how it ended (metrics). */
  onCall?(size: number, outcome: SignCallOutcome): void;
}

export type SignCallOutcome = 'ok' | 'error' | 'timeout';

interface Waiting<I, O> {
  item: I;
  resolve(out: O): void;
  reject(err: unknown): void;
}

export class Batcher<I, O> {
  private queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  /** A wall-clock wait of a few ms for company, not a deadline: no injected clock here. */
  private cancelWait: (() => void) | undefined;
  private closed = false;
  /** The last call's failure, until a call succeeds: readiness reports it. */
  private lastFailure: Error | undefined;
  private readonly maxSize: number;
  private readonly maxInFlight: number;

  constructor(
    /** Sends one batch; answers one result (or that item's own error) per item, in order; stops when `signal` aborts. */
    private readonly send: (items: I[], signal: AbortSignal) => Promise<(O | Error)[]>,
    private readonly options: BatcherOptions,
  ) {
    this.maxSize = Math.max(1, Math.min(options.maxSize, batchSizeMax));
    this.maxInFlight = Math.max(1, Math.min(options.maxInFlight, callsInFlightMax));
  }

  submit(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new WcaError('ERR_CA_CLOSED', 'the key manager is closed'));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxSize) this.flush();
      else this.cancelWait ??= this.wait();
    });
  }

  /** Why signing through this batcher is failing now (the last call failed), or undefined. */
  get failing(): Error | undefined {
    return this.lastFailure;
  }

  close(): void {
    this.closed = true;
    this.cancelWait?.();
    this.cancelWait = undefined;
    const err = new WcaError('ERR_CA_CLOSED', 'the key manager is closed');
    for (const w of this.queue.splice(0)) w.reject(err);
  }

  private flush(): void {
    this.cancelWait?.();
    this.cancelWait = undefined;
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      void this.run(this.queue.splice(0, this.maxSize));
    }
  }

  /** maxDelayMs 0 still gathers what arrives in the same event-loop turn. */
  private wait(): () => void {
    if (this.options.maxDelayMs <= 0) {
      const immediate = setImmediate(() => this.flush());
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.flush(), this.options.maxDelayMs);
    return () => clearTimeout(timer);
  }

  private async run(batch: Waiting<I, O>[]): Promise<void> {
    this.inFlight++;
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    let cancelTimeout = () => {};
    // `send` should stop at the signal; this race frees the slot even when it does not.
    const timedOut = new Promise<never>((_, reject) => {
      const onAbort = () =>
        reject(new WcaError('ERR_UPSTREAM_TIMEOUT', `key manager signing call got no answer within ${this.options.timeoutMs} ms`, { details: { timeoutMs: this.options.timeoutMs } }));
      deadline.addEventListener('abort', onAbort, { once: true });
      cancelTimeout = () => deadline.removeEventListener('abort', onAbort);
    });
    try {
      const results = await Promise.race([this.send(batch.map((w) => w.item), deadline), timedOut]);
      if (results.length !== batch.length) {
        throw new WcaError('ERR_UPSTREAM_BAD_RESPONSE', `key manager answered ${results.length} results for ${batch.length} requests`);
      }
      this.lastFailure = undefined;
      this.options.onCall?.(batch.length, 'ok');
      batch.forEach((w, i) => {
        const r = results[i]!;
        if (r instanceof Error) w.reject(r);
        else w.resolve(r);
      });
    } catch (err) {
      this.lastFailure = err instanceof Error ? err : new Error(String(err));
      this.options.onCall?.(batch.length, deadline.aborted ? 'timeout' : 'error');
      for (const w of batch) w.reject(err);
    } finally {
      cancelTimeout();
      this.inFlight--;
      // What queued while every call was busy has waited long enough: send it now.
      if (!this.closed && this.queue.length > 0) this.flush();
    }
  }
}

/**
 * Coalesces concurrent signing requests to a remote key into batch calls: a
 * batch leaves when it holds `maxSize` items or `maxDelayMs` after its first
 * item (0: at the end of the current event-loop turn), and at most `maxInFlight` calls run at once (items wait here meanwhile,
 * so batches grow under load instead of calls piling up at the backend).
 * With maxSize 1 every item is its own call (batching off).
 */
import { WcaError } from '../errors.js';
import { limits } from '../limits.js';

export const batchSizeMax = limits.keySignBatchMax;
export const callsInFlightMax = limits.keySignCallsInFlightMax;

export interface BatcherOptions {
  maxSize: number;
  maxDelayMs: number;
  maxInFlight: number;
  /** Told about every call: how many items it carried and whether it succeeded (metrics). */
  onCall?(size: number, ok: boolean): void;
}

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
  private readonly maxSize: number;
  private readonly maxInFlight: number;

  constructor(
    /** Sends one batch; answers one result (or that item's own error) per item, in order. */
    private readonly send: (items: I[]) => Promise<(O | Error)[]>,
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
    try {
      const results = await this.send(batch.map((w) => w.item));
      if (results.length !== batch.length) {
        throw new WcaError('ERR_UPSTREAM_BAD_RESPONSE', `key manager answered ${results.length} results for ${batch.length} requests`);
      }
      this.options.onCall?.(batch.length, true);
      batch.forEach((w, i) => {
        const r = results[i]!;
        if (r instanceof Error) w.reject(r);
        else w.resolve(r);
      });
    } catch (err) {
      this.options.onCall?.(batch.length, false);
      for (const w of batch) w.reject(err);
    } finally {
      this.inFlight--;
      // What queued while every call was busy has waited long enough: send it now.
      if (!this.closed && this.queue.length > 0) this.flush();
    }
  }
}

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { reasonOf, WcaError } from '../errors.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import type { SigningCa, SignJob, SignResult } from './sign-leaf.js';
import { unpackResult, type WorkerRequest, type WorkerResponse } from './signer-protocol.js';

interface Pending {
  caId: string;
  job: SignJob;
  resolve: (r: SignResult) => void;
  reject: (e: Error) => void;
}

const BATCHES_IN_FLIGHT_PER_WORKER = 2;

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending[]>;
  load: number;
}

// Under tsx or vitest the worker is TypeScript: a bootstrap registers tsx's loader in the
// thread first (Node 20 does not apply --import to a worker's entry). Built code runs plain.
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./signer-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);

function startWorker(): Worker {
  if (!fromSource) return new Worker(workerUrl);
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}

/**
 * Signing off the main thread. Jobs queue here and go to the least-loaded worker
 * in batches once per event-loop turn, so postMessage overhead is paid per batch,
 * not per certificate.
 */
export class SignerPool {
  private readonly slots: Slot[] = [];
  private readonly cas = new Map<string, SigningCa>();
  private queue: Pending[] = [];
  private flushScheduled = false;
  private nextBatchId = 0;
  private closed = false;

  constructor(
    private readonly options: { size?: number; logger: Logger; onQueueDepth?: (depth: number) => void },
  ) {
    const size = options.size && options.size > 0 ? options.size : os.availableParallelism();
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  /** Idempotent: a slot promoted from next to active is already loaded. */
  addCa(ca: SigningCa): void {
    if (this.cas.has(ca.id)) return;
    this.cas.set(ca.id, ca);
    for (const slot of this.slots) slot.worker.postMessage({ type: 'add-ca', ca } satisfies WorkerRequest);
  }

  removeCa(caId: string): void {
    if (!this.cas.delete(caId)) return;
    for (const slot of this.slots) slot.worker.postMessage({ type: 'remove-ca', caId } satisfies WorkerRequest);
  }

  sign(caId: string, job: SignJob): Promise<SignResult> {
    if (this.closed) return Promise.reject(new WcaError('ERR_CA_CLOSED', 'the CA is shutting down'));
    if (this.queue.length + this.inFlightCount() >= limits.signQueueMax) {
      return Promise.reject(new WcaError('ERR_CA_OVERLOADED', `signing queue is full (${limits.signQueueMax} requests); retry shortly`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ caId, job, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new WcaError('ERR_CA_CLOSED', 'the CA is shutting down');
    for (const p of this.queue.splice(0)) p.reject(err);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const s of this.slots) for (const batch of s.inFlight.values()) for (const p of batch) p.reject(err);
  }

  private inFlightCount(): number {
    let n = 0;
    for (const s of this.slots) n += s.load;
    return n;
  }

  /**
   * Each worker gets at most two batches in flight (one running, one ready). The
   * rest waits here and leaves as one larger batch when a worker reports back: under
   * load, batches grow on their own; at low load, an idle worker gets work at once.
   */
  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const slot = this.slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size || (b.inFlight.size === a.inFlight.size && b.load < a.load) ? b : a));
      if (slot.inFlight.size >= BATCHES_IN_FLIGHT_PER_WORKER) break;
      const open = this.slots.filter((s) => s.inFlight.size < BATCHES_IN_FLIGHT_PER_WORKER).length;
      const take = Math.min(limits.signBatchMax, Math.ceil(this.queue.length / open));
      const batch = this.queue.splice(0, take);
      const batchId = this.nextBatchId++;
      slot.inFlight.set(batchId, batch);
      slot.load += batch.length;
      slot.worker.postMessage({
        type: 'batch',
        batchId,
        jobs: batch.map((p) => ({ caId: p.caId, job: p.job })),
      } satisfies WorkerRequest);
    }
    this.options.onQueueDepth?.(this.inFlightCount() + this.queue.length);
  }

  private spawn(): Slot {
    const worker = startWorker();
    worker.unref();
    const slot: Slot = { worker, inFlight: new Map(), load: 0 };
    worker.on('message', (msg: WorkerResponse) => {
      const batch = slot.inFlight.get(msg.batchId);
      if (!batch) return;
      slot.inFlight.delete(msg.batchId);
      slot.load -= batch.length;
      batch.forEach((p, i) => {
        const r = unpackResult(msg, i);
        if (r.ok) p.resolve(r.ok);
        else {
          const reason = reasonOf(r.error.code, r.error.reason);
          p.reject(new WcaError(r.error.code, r.error.message, reason === undefined ? {} : { details: { reason } }));
        }
      });
      this.flush();
    });
    worker.on('error', (err) => this.replace(slot, err));
    worker.on('exit', (code) => {
      if (!this.closed) this.replace(slot, new Error(`signer worker exited with code ${code}`));
    });
    for (const ca of this.cas.values()) worker.postMessage({ type: 'add-ca', ca } satisfies WorkerRequest);
    return slot;
  }

  /** A crashed worker fails only its own in-flight jobs; a fresh one takes its place. */
  private replace(slot: Slot, cause: Error): void {
    const index = this.slots.indexOf(slot);
    if (index === -1 || this.closed) return;
    this.options.logger.error({ err: { name: cause.name, message: cause.message } }, 'signer worker failed; replacing it');
    for (const batch of slot.inFlight.values()) {
      for (const p of batch) p.reject(new WcaError('ERR_SIGNER_FAILED', 'signer worker failed; retry the request'));
    }
    slot.inFlight.clear();
    void slot.worker.terminate();
    this.slots[index] = this.spawn();
    this.flush();
  }
}

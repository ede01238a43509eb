import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { reasonOf, WcaError } from '../errors.js';
import { limits } from '../limits.js';
import type { Logger } from '../telemetry/logger.js';
import type { SigningCa, SignJob, SignResult } from './sign-leaf.js';
import { overloaded, queueBound, tooSlow, type IssuePriority } from './overload.js';
import { unpackResult, type WorkerRequest, type WorkerResponse } from './signer-protocol.js';

interface Pending {
  caId: string;
  job: SignJob;
  /** performance.now() when queued: the age of the oldest interactive job is the wait a new one would face. */
  queuedAt: number;
  resolve: (r: SignResult) => void;
  reject: (e: Error) => void;
}

interface Batch {
  jobs: Pending[];
  lane: IssuePriority;
}

/** Batches of each lane a worker holds at once (one running, one ready). */
const BATCHES_IN_FLIGHT_PER_WORKER = 2;
/**
 * Jobs per bulk batch: an interactive job reaching a worker waits behind at most
 * two of these, a few milliseconds, instead of two full batches of signBatchMax.
 */
const BULK_BATCH_MAX = 32;

interface Slot {
  worker: Worker;
  inFlight: Map<number, Batch>;
  /** Batches in flight per lane. */
  batches: Record<IssuePriority, number>;
  load: number;
}

export interface SignerPoolOptions {
  size?: number;
  logger: Logger;
  onQueueDepth?: (depth: number) => void;
  /** Jobs queued or signing before sign() refuses (ca.maxQueuedIssuance); capped at limits.signQueueMax. */
  maxQueued?: number;
  /** An interactive job is refused while the oldest queued one has waited longer than this (ca.maxIssuanceWait). */
  maxWaitMs?: number;
  /** Called for every job refused because the queue is full or too slow, with the reason. */
  onShed?: (reason: 'queued-issuance' | 'issuance-wait') => void;
}

let workerUrl = new URL(`./signer-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/**
 * Signer threads of a process running from the TypeScript source run this
 * JavaScript build of signer-worker.ts instead (the test suite's transpile): a tsx
 * loader in every thread costs more than the signing most tests ask of it.
 */
export function useSignerWorkerModule(url: URL): void {
  workerUrl = url;
}

// Under tsx or vitest the worker is TypeScript: a bootstrap registers tsx's loader in the
// thread first (Node 20 does not apply --import to a worker's entry). Built code runs plain.
function startWorker(): Worker {
  if (!workerUrl.pathname.endsWith('.ts')) return new Worker(workerUrl);
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}

/**
 * Signing off the main thread. Jobs queue here and go to the least-loaded worker
 * in batches once per event-loop turn, so postMessage overhead is paid per batch,
 * not per certificate. Two lanes: interactive jobs always leave first; bulk jobs
 * leave in small batches, only while no interactive job waits, so a taint of the
 * whole fleet cannot stand between a new subscriber and its first certificate.
 */
export class SignerPool {
  private readonly slots: Slot[] = [];
  private readonly cas = new Map<string, SigningCa>();
  private readonly queues: Record<IssuePriority, Pending[]> = { interactive: [], bulk: [] };
  private readonly maxQueued: number;
  private flushScheduled = false;
  private nextBatchId = 0;
  private closed = false;

  constructor(private readonly options: SignerPoolOptions) {
    const size = options.size && options.size > 0 ? options.size : os.availableParallelism();
    this.maxQueued = queueBound(options.maxQueued);
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

  sign(caId: string, job: SignJob, priority: IssuePriority = 'interactive'): Promise<SignResult> {
    if (this.closed) return Promise.reject(new WcaError('ERR_CA_CLOSED', 'the CA is shutting down'));
    if (this.queuedCount() + this.inFlightCount() >= this.maxQueued) {
      this.options.onShed?.('queued-issuance');
      return Promise.reject(overloaded(this.maxQueued));
    }
    const now = performance.now();
    // Bounds what an admitted caller waits, whatever the machine's speed: a full queue
    // on a slow or busy box is seconds long, on a fast one milliseconds.
    const oldest = this.queues.interactive[0];
    if (priority === 'interactive' && oldest && this.options.maxWaitMs !== undefined && now - oldest.queuedAt > this.options.maxWaitMs) {
      this.options.onShed?.('issuance-wait');
      return Promise.reject(tooSlow(this.options.maxWaitMs));
    }
    return new Promise((resolve, reject) => {
      this.queues[priority].push({ caId, job, queuedAt: now, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new WcaError('ERR_CA_CLOSED', 'the CA is shutting down');
    for (const queue of Object.values(this.queues)) for (const p of queue.splice(0)) p.reject(err);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const s of this.slots) for (const batch of s.inFlight.values()) for (const p of batch.jobs) p.reject(err);
  }

  private queuedCount(): number {
    return this.queues.interactive.length + this.queues.bulk.length;
  }

  private inFlightCount(): number {
    let n = 0;
    for (const s of this.slots) n += s.load;
    return n;
  }

  /**
   * Each worker gets at most two batches of each lane in flight (one running, one
   * ready). The rest waits here and leaves as one larger batch when a worker
   * reports back: under load, batches grow on their own; at low load, an idle
   * worker gets work at once. Bulk work is paced: it waits while any interactive
   * job does, and leaves in batches of BULK_BATCH_MAX.
   */
  private flush(): void {
    this.flushScheduled = false;
    this.dispatch('interactive', limits.signBatchMax);
    if (this.queues.interactive.length === 0) this.dispatch('bulk', BULK_BATCH_MAX);
    this.options.onQueueDepth?.(this.inFlightCount() + this.queuedCount());
  }

  private dispatch(lane: IssuePriority, batchMax: number): void {
    const queue = this.queues[lane];
    while (queue.length > 0) {
      const open = this.slots.filter((s) => s.batches[lane] < BATCHES_IN_FLIGHT_PER_WORKER);
      if (open.length === 0) break;
      const slot = open.reduce((a, b) => (b.inFlight.size < a.inFlight.size || (b.inFlight.size === a.inFlight.size && b.load < a.load) ? b : a));
      const jobs = queue.splice(0, Math.min(batchMax, Math.ceil(queue.length / open.length)));
      const batchId = this.nextBatchId++;
      slot.inFlight.set(batchId, { jobs, lane });
      slot.batches[lane]++;
      slot.load += jobs.length;
      slot.worker.postMessage({
        type: 'batch',
        batchId,
        jobs: jobs.map((p) => ({ caId: p.caId, job: p.job })),
      } satisfies WorkerRequest);
    }
  }

  private spawn(): Slot {
    const worker = startWorker();
    worker.unref();
    const slot: Slot = { worker, inFlight: new Map(), batches: { interactive: 0, bulk: 0 }, load: 0 };
    worker.on('message', (msg: WorkerResponse) => {
      const batch = slot.inFlight.get(msg.batchId);
      if (!batch) return;
      slot.inFlight.delete(msg.batchId);
      slot.batches[batch.lane]--;
      slot.load -= batch.jobs.length;
      batch.jobs.forEach((p, i) => {
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
      for (const p of batch.jobs) p.reject(new WcaError('ERR_SIGNER_FAILED', 'signer worker failed; retry the request'));
    }
    slot.inFlight.clear();
    void slot.worker.terminate();
    this.slots[index] = this.spawn();
    this.flush();
  }
}

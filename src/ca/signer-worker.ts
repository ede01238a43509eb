import { parentPort } from 'node:worker_threads';
import { signLeaf, type SigningCa, type SignJob } from './sign-leaf.js';
import { WcaError } from '../errors.js';
import { packResults, type WorkerRequest, type WorkerResult } from './signer-protocol.js';

/**
 * A signer thread: holds CA keys as KeyObjects (cloned in memory by postMessage,
 * never serialised) and turns batches of jobs into certificates.
 */
const cas = new Map<string, SigningCa>();
const port = parentPort!;

port.on('message', (msg: WorkerRequest) => {
  switch (msg.type) {
    case 'add-ca':
      cas.set(msg.ca.id, msg.ca);
      break;
    case 'remove-ca':
      cas.delete(msg.caId);
      break;
    case 'batch': {
      void Promise.all(msg.jobs.map(({ caId, job }) => run(caId, job))).then((results) =>
        port.postMessage(packResults(msg.batchId, results)),
      );
      break;
    }
  }
});

async function run(caId: string, job: SignJob): Promise<WorkerResult> {
  const ca = cas.get(caId);
  if (!ca) return { error: { code: 'ERR_CA_NOT_READY', message: `signing CA ${caId} is not loaded` } };
  try {
    return { ok: await signLeaf(ca, job) };
  } catch (err) {
    if (err instanceof WcaError) {
      const reason = err.details.reason;
      return { error: { code: err.code, message: err.message, ...(typeof reason === 'string' ? { reason } : {}) } };
    }
    // Foreign errors may quote inputs; report only their class.
    return { error: { code: 'ERR_SIGNER_FAILED', message: `signing failed (${(err as Error).name})` } };
  }
}

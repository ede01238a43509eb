import type { SigningCa, SignJob, SignResult } from './sign-leaf.js';
import type { ErrorCode } from '../errors.js';

/** Messages between the signer pool and its worker threads. */
export type WorkerRequest =
  | { type: 'add-ca'; ca: SigningCa }
  | { type: 'remove-ca'; caId: string }
  | { type: 'batch'; batchId: number; jobs: { caId: string; job: SignJob }[] };

export type WorkerResult = { ok: SignResult; error?: undefined } | { ok?: undefined; error: { code: ErrorCode; message: string } };

export interface WorkerResponse {
  type: 'results';
  batchId: number;
  results: WorkerResult[];
}

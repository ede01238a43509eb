import type { SigningCa, SignJob, SignResult } from './sign-leaf.js';
import type { ErrorCode } from '../errors.js';

/** Messages between the signer pool and its worker threads. */
export type WorkerRequest =
  | { type: 'add-ca'; ca: SigningCa }
  | { type: 'remove-ca'; caId: string }
  | { type: 'batch'; batchId: number; jobs: { caId: string; job: SignJob }[] };

/** A refused job: the code, the message and the typed `details.reason` (e.g. a CSR problem), if any. */
export interface WorkerError {
  code: ErrorCode;
  message: string;
  reason?: string;
}

export type WorkerResult = { ok: SignResult; error?: undefined } | { ok?: undefined; error: WorkerError };

/**
 * Results travel as one flat string array, three slots per job (leaf PEM or error
 * code, serial or message, key PEM or error reason or ""), plus a flag per job: structured clone
 * of many small objects cost more than the signing it reports on.
 */
export interface WorkerResponse {
  type: 'results';
  batchId: number;
  ok: Uint8Array;
  texts: string[];
}

export function packResults(batchId: number, results: readonly WorkerResult[]): WorkerResponse {
  const ok = new Uint8Array(results.length);
  const texts: string[] = new Array(results.length * 3);
  results.forEach((r, i) => {
    if (r.ok) {
      ok[i] = 1;
      texts[3 * i] = r.ok.leafPem;
      texts[3 * i + 1] = r.ok.serialHex;
      texts[3 * i + 2] = r.ok.privateKeyPem ?? '';
    } else {
      texts[3 * i] = r.error.code;
      texts[3 * i + 1] = r.error.message;
      texts[3 * i + 2] = r.error.reason ?? '';
    }
  });
  return { type: 'results', batchId, ok, texts };
}

export function unpackResult(response: WorkerResponse, i: number): WorkerResult {
  const t = response.texts;
  if (!response.ok[i]) {
    const reason = t[3 * i + 2];
    return { error: { code: t[3 * i] as ErrorCode, message: t[3 * i + 1]!, ...(reason ? { reason } : {}) } };
  }
  const result: SignResult = { leafPem: t[3 * i]!, serialHex: t[3 * i + 1]! };
  if (t[3 * i + 2]) result.privateKeyPem = t[3 * i + 2]!;
  return { ok: result };
}

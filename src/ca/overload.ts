import { WcaError } from '../errors.js';
import { limits } from '../limits.js';

/**
 * Who waits for a signature: `interactive` is someone waiting now (a new
 * subscriber's first certificate, a CLI or admin issue); `bulk` is re-issuance
 * nobody is blocked on yet (renewal, taint, rotation of thousands of subscribers).
 */
export type IssuePriority = 'interactive' | 'bulk';

/** Jobs queued or signing at most: ca.maxQueuedIssuance, never past limits.signQueueMax. */
export function queueBound(configured: number | undefined): number {
  return Math.min(configured ?? limits.signQueueMax, limits.signQueueMax);
}

/** The refusal when `max` jobs are already queued or signing: names the setting an operator would raise. */
export function overloaded(max: number): WcaError {
  return new WcaError('ERR_CA_OVERLOADED', `${max} certificate issues are already queued or signing (ca.maxQueuedIssuance); retry shortly`, {
    details: { reason: 'queued-issuance', limit: max },
  });
}


/** The refusal while interactive jobs already wait longer than `maxWaitMs` for a signer. */
export function tooSlow(maxWaitMs: number): WcaError {
  return new WcaError('ERR_CA_OVERLOADED', `certificate issues already wait more than ${maxWaitMs} ms for a signer (ca.maxIssuanceWait); retry shortly`, {
    details: { reason: 'issuance-wait', limit: maxWaitMs },
  });
}

import { isWcaError } from '../errors.js';
import type { Metrics } from '../telemetry/metrics.js';

/**
 * Counts a stream refused or ended by an SDS limit in wca_shed_total, labelled with
 * the limit's typed reason (a fixed set). The signer counts its own refusals
 * (queued-issuance), so an overloaded CA is not counted twice.
 */
export function countShed(metrics: Metrics, err: unknown): void {
  if (isWcaError(err, 'ERR_SDS_LIMIT')) metrics.shed.inc({ limit: String(err.details.reason ?? 'unknown') });
}

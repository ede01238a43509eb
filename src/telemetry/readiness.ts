/**
 * What /readyz reports. Lives with the endpoint, below the subsystems that
 * judge it (rotation/health.ts, keys/readiness.ts), so none of them imports another.
 */
export type Readiness =
  | { state: 'ready' }
  | { state: 'degraded'; reason: string }
  | { state: 'not-ready'; reason: string };

/** Readiness with a problem that degrades service without stopping issuance (a remote key, the shared state store). */
export function degradedBy(r: Readiness, reason: string | undefined): Readiness {
  if (reason === undefined || r.state === 'not-ready') return r;
  return { state: 'degraded', reason: r.state === 'degraded' ? `${r.reason}; ${reason}` : reason };
}

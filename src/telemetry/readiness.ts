/**
 * What /readyz reports. Lives with the endpoint, below the subsystems that
 * judge it (rotation/health.ts, keys/readiness.ts), so none of them imports another.
 */
export type Readiness =
  | { state: 'ready' }
  | { state: 'degraded'; reason: string }
  | { state: 'not-ready'; reason: string };

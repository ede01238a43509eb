import { degradedBy, type Readiness } from '../telemetry/readiness.js';

/**
 * Readiness with a remote key's signing problem added: degraded, not not-ready,
 * for the same reason rotation trouble is (health.ts) — a shared key backend
 * that fails would otherwise take every replica out of service at once — but
 * said, so operators see why leaves stopped coming.
 */
export function withSigning(r: Readiness, problem: string | undefined): Readiness {
  return degradedBy(r, problem === undefined ? undefined : `signing with the intermediate key is failing: ${problem}`);
}

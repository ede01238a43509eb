import type { z } from 'zod';
import type { Logger } from '../telemetry/logger.js';
import type { ReplicaMembership } from './types.js';

/**
 * The live replicas with their heartbeat status read through `schema`. A row is
 * untrusted input (whoever can write the table wrote it): one whose status does not
 * parse (JSON null, wrong types) is skipped with a warning and costs only itself,
 * never the whole fleet view.
 */
export async function liveStatuses<S extends z.ZodType>(
  membership: ReplicaMembership,
  schema: S,
  logger: Logger,
): Promise<{ replicaId: string; lastSeenMs: number; status: z.infer<S> }[]> {
  const skipped: string[] = [];
  const out = (await membership.live()).flatMap((r) => {
    const parsed = schema.safeParse(r.status);
    if (parsed.success) return [{ replicaId: r.replicaId, lastSeenMs: r.lastSeenMs, status: parsed.data as z.infer<S> }];
    skipped.push(String(r.replicaId).slice(0, 80));
    return [];
  });
  // One line per read, however many rows are bad (up to limits.replicasMax).
  if (skipped.length > 0) logger.warn({ rows: skipped.length, replicas: skipped.slice(0, 5) }, 'replica heartbeat rows with a malformed status skipped');
  return out;
}

import { z } from 'zod';
import { limits } from '../limits.js';

/** Host-name characters, a letter or digit first; also the SQL filter of membership rows (PostgreSQL reads it alike). */
export const replicaIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A replica's name in the shared membership and the target of `--replica`: host-name
 * characters, so it prints safely and means the same in a shell, a log and a table.
 */
export const replicaIdSchema = z
  .string()
  .min(1, 'is empty')
  .max(limits.replicaIdMaxLength, `is longer than ${limits.replicaIdMaxLength} characters`)
  .regex(replicaIdPattern, 'is a replica id: a letter or digit, then letters, digits, ".", "_" and "-", as "authority show" prints it');

/** The default id: the host name (a pod name on Kubernetes) cut to the grammar, and a random suffix so a restart is a new replica. */
export function defaultReplicaId(hostname: string, suffix: string): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'replica';
  return `${host.slice(0, limits.replicaIdMaxLength - suffix.length - 1)}-${suffix}`;
}

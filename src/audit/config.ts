import { z } from 'zod';
import { limits } from '../limits.js';

/** `audit:` section: where the audit log goes and how much of it `audit tail` can see. */
export const auditConfigSchema = z
  .object({
    /** stdout: one JSON line per event marked `"log":"audit"` (operational logs are on stderr); file: appended to `path` (mode 0600). */
    sink: z.enum(['stdout', 'file', 'none']).default('stdout'),
    path: z.string().min(1).optional(),
    /** Events kept in memory for `workload-ca audit tail`. */
    ringSize: z.number().int().min(1).max(limits.auditRingMax).default(limits.auditRingMax),
  })
  .strict()
  .refine((a) => a.sink !== 'file' || a.path !== undefined, { message: 'sink "file" needs a path', path: ['path'] })
  .prefault({});

export type AuditConfig = z.infer<typeof auditConfigSchema>;

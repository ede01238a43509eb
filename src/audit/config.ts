import { z } from 'zod';
import { limits } from '../limits.js';

/** `audit:` section: where the audit log goes and how much of it `audit tail` can see. */
export const auditConfigSchema = z
  .object({
    sink: z.enum(['stdout', 'file', 'none']).default('stdout').describe('stdout: one JSON line per event marked `"log":"audit"` (operational logs are on stderr); file: appended to `path` (mode 0600).'),
    path: z.string().min(1).optional().describe('The audit log file for sink `file`.'),
    ringSize: z.number().int().min(1).max(limits.auditRingMax).default(limits.auditRingMax).describe('Events kept in memory for `workload-ca audit tail`.'),
  })
  .strict()
  .refine((a) => a.sink !== 'file' || a.path !== undefined, { message: 'sink "file" needs a path', path: ['path'] })
  .prefault({});

export type AuditConfig = z.infer<typeof auditConfigSchema>;

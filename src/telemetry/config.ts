import { z } from 'zod';
import { duration } from '../config/duration.js';
import { limits } from '../limits.js';

/** The `http:` section: bounds on what any peer can make the health/metrics listener hold. */
export const httpConfigSchema = z
  .object({
    /** Open connections in all; more are closed right after the accept. */
    maxConnections: z.number().int().min(1).max(limits.httpConnectionsMax).default(32),
    /** Open connections per client IP address; more are closed at once. */
    perAddress: z.number().int().min(1).max(limits.httpConnectionsMax).default(8),
    /** A request's headers and body must arrive, and an idle keep-alive connection is closed, within this long. */
    timeout: duration.pipe(z.number().positive().max(limits.httpTimeoutMaxSeconds)).default(5),
  })
  .strict()
  .prefault({});

export type HttpConfig = z.infer<typeof httpConfigSchema>;

import { z } from 'zod';
import { duration } from '../duration.js';
import { limits } from '../limits.js';

/** The `http:` section: bounds on what any peer can make the health/metrics listener hold. */
export const httpConfigSchema = z
  .object({
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(limits.httpConnectionsMax)
      .default(32)
      .describe('Open connections in all; past it the oldest connection with no request in progress is closed.'),
    perAddress: z.number().int().min(1).max(limits.httpConnectionsMax).default(8).describe('Open connections per client IP address; more are closed at once.'),
    timeout: duration
      .pipe(z.number().positive().max(limits.httpTimeoutMaxSeconds))
      .default(5)
      .describe("A request's headers and body must arrive, and an idle keep-alive connection is closed, within this long."),
  })
  .strict()
  .prefault({});

export type HttpConfig = z.infer<typeof httpConfigSchema>;

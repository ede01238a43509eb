import { z } from 'zod';
import { duration } from '../duration.js';
import { limits } from '../limits.js';

/** `sds.connections:` bounds on what any peer, authenticated or not, can make the SDS listener hold. */
export const connectionsConfigSchema = z
  .object({
    handshakeTimeout: duration.pipe(z.number().positive().max(limits.tlsHandshakeTimeoutMaxSeconds)).default(10).describe('A TLS handshake must finish within this long of the TCP accept.'),
    idleTimeout: duration.pipe(z.number().positive()).default(300).describe('A connection without an open stream is closed after this long.'),
    perAddress: z.number().int().min(1).max(limits.sdsConnectionsPerAddressMax).default(256).describe('Open TLS connections per client IP address.'),
    max: z.number().int().min(1).max(limits.sdsConnectionsMax).optional().describe('Open TLS connections in all; never more than RLIMIT_NOFILE minus limits.fdReserve.'),
  })
  .strict()
  .prefault({});

export type ConnectionsConfig = z.infer<typeof connectionsConfigSchema>;

import { z } from 'zod';
import { duration } from '../duration.js';
import { limits } from '../limits.js';

/** How every TLS listener finds out that a peer is gone (transport/keepalive.ts); shared by `sds.connections` and `admin.tcp.connections`. */
export const keepaliveConfigFields = {
  pingInterval: duration
    .pipe(z.number().min(1).max(limits.pingIntervalMaxSeconds))
    .default(30)
    .describe('The server sends each connection an HTTP/2 PING this long after its last answer; a connection that receives nothing for pingInterval + pingTimeout is closed (a peer that vanished without a TCP close, or one Node stopped reading).'),
  pingTimeout: duration.pipe(z.number().min(1).max(limits.pingTimeoutMaxSeconds)).default(10).describe('A PING unanswered this long closes the connection.'),
};

/** `sds.connections:` bounds on what any peer, authenticated or not, can make the SDS listener hold. */
export const connectionsConfigSchema = z
  .object({
    handshakeTimeout: duration.pipe(z.number().positive().max(limits.tlsHandshakeTimeoutMaxSeconds)).default(10).describe('A TLS handshake must finish within this long of the TCP accept.'),
    idleTimeout: duration.pipe(z.number().positive().max(limits.connectionIdleTimeoutMaxSeconds)).default(300).describe('A connection without an open stream is closed after this long.'),
    perAddress: z.number().int().min(1).max(limits.sdsConnectionsPerAddressMax).default(256).describe('Open TLS connections per client IP address.'),
    max: z.number().int().min(1).max(limits.sdsConnectionsMax).optional().describe('Open TLS connections in all; never more than RLIMIT_NOFILE minus limits.fdReserve.'),
    ...keepaliveConfigFields,
  })
  .strict()
  .prefault({});

export type ConnectionsConfig = z.infer<typeof connectionsConfigSchema>;

import { z } from 'zod';
import { duration } from '../duration.js';
import { listenAddress } from '../net/listen-address.js';
import { limits } from '../limits.js';
import { keepaliveConfigFields } from '../transport/config.js';
import { parseSpiffeId } from '../spiffe/id.js';

const spiffeId = z.string().transform((value, ctx) => {
  try {
    return parseSpiffeId(value).uri;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `"${value.slice(0, 64)}": ${(err as Error).message}` });
    return z.NEVER;
  }
});

/**
 * `admin.tcp:` the admin API on TCP. Only with mutual TLS and an allow-list: every
 * key but `connections` is required, so a listener that would let an unknown
 * client in cannot be configured at all.
 */
const adminTcpSchema = z
  .object({
    address: listenAddress
      .refine((a) => a.kind === 'tcp', { message: 'must be host:port (the Unix socket is listen.admin)' })
      .describe('host:port the TCP admin listener binds.'),
    tls: z
      .object({
        certFile: z.string().min(1).describe("PEM certificate chain the admin listener presents (clients check it against their --ca)."),
        keyFile: z.string().min(1).describe("PEM private key of certFile; read at start, kept in memory."),
        clientCaFile: z.string().min(1).describe('PEM roots that client certificates must chain to (OpenSSL path validation, TLS client purpose).'),
      })
      .strict()
      .describe('Server certificate and the roots client certificates are verified against; all three are required.'),
    allow: z
      .array(spiffeId)
      .min(1, 'must name at least one admin SPIFFE ID')
      .max(limits.adminAllowListMax)
      .describe("SPIFFE IDs (the client certificate's URI SAN) allowed to call the admin API; any other verified caller gets PERMISSION_DENIED."),
    connections: z
      .object({
        handshakeTimeout: duration.pipe(z.number().positive().max(limits.tlsHandshakeTimeoutMaxSeconds)).default(10).describe('A TLS handshake must finish within this long of the TCP accept.'),
        idleTimeout: duration.pipe(z.number().positive().max(limits.connectionIdleTimeoutMaxSeconds)).default(60).describe('A connection without a call in progress is closed after this long.'),
        perAddress: z.number().int().min(1).max(limits.adminTcpConnectionsMax).default(8).describe('Open connections per client IP address.'),
        max: z.number().int().min(1).max(limits.adminTcpConnectionsMax).default(64).describe('Open connections in all.'),
        ...keepaliveConfigFields,
      })
      .strict()
      .prefault({})
      .describe('Bounds on what any peer, verified or not, can make the TCP admin listener hold.'),
  })
  .strict();

/** `admin:` section. The Unix socket (listen.admin) is always served; TCP only when configured. */
export const adminConfigSchema = z
  .object({
    tcp: adminTcpSchema.optional().describe('The admin API over TCP: mutual TLS and an allow-list of SPIFFE IDs, both required (see docs/rotation.md).'),
  })
  .strict()
  .prefault({});

export type AdminConfig = z.infer<typeof adminConfigSchema>;
export type AdminTcpConfig = NonNullable<AdminConfig['tcp']>;

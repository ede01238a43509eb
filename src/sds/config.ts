import { z } from 'zod';
import { duration } from '../config/duration.js';
import { limits } from '../limits.js';
import { connectionsConfigSchema } from '../transport/config.js';
import { parseDnsNames } from '../spiffe/dns.js';

/** The `sds:` section. Owned by the SDS server; the top-level schema embeds it. */
export const sdsConfigSchema = z
  .object({
    /** Resource name of the caller's own certificate and key. */
    certificateName: z.string().min(1).default('default'),
    /** Resource name of the trust bundle. */
    bundleName: z.string().min(1).default('ROOTCA'),
    /** Use envoy.tls.cert_validator.spiffe for Envoy >= 1.18. */
    spiffeValidator: z.boolean().default(true),
    /**
     * DNS names in the certificate the TLS listener presents, besides its SPIFFE ID: for
     * clients that check the name they dial, such as Envoy's google_grpc (e.g. the
     * Kubernetes Service name).
     */
    serverDnsNames: z
      .array(z.string())
      .default([])
      .transform((names, ctx) => {
        try {
          return parseDnsNames(names);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
          return z.NEVER;
        }
      }),
    /** Transport security of the TCP listener: mtls | tls | plaintext (dev profile on loopback only). */
    transport: z.enum(['mtls', 'tls', 'plaintext']).optional(),
    /** Authenticators tried in order on the SDS listener. */
    authenticators: z.array(z.string()).optional(),
    /** Certificates issued at once while renewing subscribers. */
    issueConcurrency: z.number().int().min(1).max(limits.sdsIssueConcurrency).default(limits.sdsIssueConcurrency),
    /** FetchSecrets waits this long for a first certificate before UNAVAILABLE. */
    fetchTimeout: duration.pipe(z.number().positive()).default(10),
    /** A node's key is kept this long after its last stream closes, so a reconnect gets the same one. */
    idleTimeout: duration.pipe(z.number().positive()).default(300),
    /** Concurrent authenticated streams per server; a stream counts once its caller is authenticated. */
    maxStreams: z.number().int().min(1).max(limits.sdsStreamsMax).default(limits.sdsStreamsMax),
    /** Concurrent streams one HTTP/2 connection may open (SETTINGS_MAX_CONCURRENT_STREAMS); Envoy needs a handful. */
    maxStreamsPerConnection: z.number().int().min(1).max(limits.sdsStreamsPerConnectionMax).default(1_000),
    /** Concurrent streams, authenticated or not, from one peer IPv4 address or IPv6 /64 (one Unix socket counts as one address). */
    maxStreamsPerAddress: z.number().int().min(1).max(limits.sdsStreamsPerAddressMax).default(10_000),
    /** Concurrent streams not yet authenticated, per server: bounds what callers without a credential hold in all. */
    maxPendingStreams: z.number().int().min(1).max(limits.sdsPendingStreamsMax).default(4_096),
    /**
     * A stream whose first request has not arrived after this long ends with
     * DEADLINE_EXCEEDED. Envoy sends its first request with the stream's headers;
     * 5 s is ample on a loaded host and halves how long an idle stream holds a
     * pending slot.
     */
    firstRequestTimeout: duration.pipe(z.number().positive().max(limits.sdsFirstRequestTimeoutMaxSeconds)).default(5),
    /** Handshake and idle timeouts and per-address cap of the TLS listener's connections. */
    connections: connectionsConfigSchema,
  })
  .strict()
  .prefault({});

export type SdsConfig = z.infer<typeof sdsConfigSchema>;
export type SdsTransport = NonNullable<SdsConfig['transport']>;

import { z } from 'zod';
import { duration } from '../duration.js';
import { limits } from '../limits.js';
import { connectionsConfigSchema } from '../transport/config.js';
import { parseDnsNames } from '../spiffe/dns.js';

/** The `sds:` section. Owned by the SDS server; the top-level schema embeds it. */
export const sdsConfigSchema = z
  .object({
    certificateName: z.string().min(1).default('default').describe('Resource name of the caller\'s own certificate and key.'),
    bundleName: z.string().min(1).default('ROOTCA').describe('Resource name of the trust bundle.'),
    spiffeValidator: z.boolean().default(true).describe('Use envoy.tls.cert_validator.spiffe for Envoy >= 1.18.'),
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
      })
      .describe(
        "DNS names in the certificate the TLS listener presents, besides its SPIFFE ID: for clients that check the name they dial, such as Envoy's google_grpc (e.g. the Kubernetes Service name).",
      ),
    transport: z.enum(['mtls', 'tls', 'plaintext']).optional().describe('Transport security of the TCP listener: mtls | tls | plaintext (dev profile on loopback only).'),
    authenticators: z.array(z.string()).optional().describe('Authenticators tried in order on the SDS listener.'),
    issueConcurrency: z.number().int().min(1).max(limits.sdsIssueConcurrency).default(limits.sdsIssueConcurrency).describe('Certificates issued at once while renewing subscribers.'),
    fetchTimeout: duration.pipe(z.number().positive()).default(10).describe('FetchSecrets waits this long for a first certificate before UNAVAILABLE.'),
    idleTimeout: duration.pipe(z.number().positive()).default(300).describe('A node\'s key is kept this long after its last stream closes, so a reconnect gets the same one.'),
    maxStreams: z.number().int().min(1).max(limits.sdsStreamsMax).default(limits.sdsStreamsMax).describe('Concurrent authenticated streams per server; a stream counts once its caller is authenticated.'),
    maxStreamsPerConnection: z.number().int().min(1).max(limits.sdsStreamsPerConnectionMax).default(1_000).describe('Concurrent streams one HTTP/2 connection may open (SETTINGS_MAX_CONCURRENT_STREAMS); Envoy needs a handful. HTTP/2 builds each stream before any handler sees it, so this bounds the memory a peer holds per connection.'),
    maxStreamsPerAddress: z.number().int().min(1).max(limits.sdsStreamsPerAddressMax).default(10_000).describe('Concurrent streams, authenticated or not, from one peer IPv4 address or IPv6 /64 (one Unix socket counts as one address).'),
    maxStreamsPerInstance: z
      .number()
      .int()
      .min(1)
      .max(limits.sdsStreamsPerInstanceMax)
      // An Envoy opens one stream per secret (two or three) per node, and an instance holds at most sdsNodesPerInstanceMax nodes.
      .default(64)
      .describe('Concurrent authenticated streams of one caller instance (a pod, a join token, an mTLS renewal lineage); past it a new stream ends with RESOURCE_EXHAUSTED.'),
    maxPendingStreams: z.number().int().min(1).max(limits.sdsPendingStreamsMax).default(4_096).describe('Concurrent streams not yet authenticated, per server: bounds what callers without a credential hold in all.'),
    maxIdentities: z
      .number()
      .int()
      .min(1)
      .max(limits.sdsCachedIdentitiesMax)
      .optional()
      .describe(`Node identities (a key and certificate each) cached in all; past it, with none idle, a new node gets RESOURCE_EXHAUSTED. Default: what fits in ${limits.sdsIdentityHeapShare * 100}% of the heap limit at ${limits.sdsIdentityHeapBytes / 1024} KiB each, at most ${limits.sdsCachedIdentitiesMax}.`),
    maxEventLoopDelay: duration
      .pipe(z.number().positive().max(limits.sdsEventLoopDelayMaxSeconds))
      .optional()
      .describe('Off unless set (250ms is a good start). New SDS streams get RESOURCE_EXHAUSTED while the p99 event-loop delay of the last 250 ms is above this: under overload the backlog waits for the main thread, so admitting more would slow every admitted request. Streams already open are served as usual; a burst of new Envoys (a reconnect storm) is shed too, and Envoy retries.'),
    firstRequestTimeout: duration
      .pipe(z.number().positive().max(limits.sdsFirstRequestTimeoutMaxSeconds))
      .default(5)
      // Envoy sends its first request with the stream's headers; 5 s is ample on a loaded host and halves how long an idle stream holds a pending slot.
      .describe('A stream whose first request has not arrived after this long ends with DEADLINE_EXCEEDED.'),
    connections: connectionsConfigSchema.describe('Handshake and idle timeouts and per-address cap of the TLS listener\'s connections.'),
  })
  .strict()
  .prefault({})
  .describe('The SDS server: resource names, transport, authenticators, limits.');

export type SdsConfig = z.infer<typeof sdsConfigSchema>;
export type SdsTransport = NonNullable<SdsConfig['transport']>;

import { z } from 'zod';
import { duration } from '../duration.js';
import { listenAddress } from '../net/listen-address.js';
import { keyTypes } from '../x509/key-types.js';
import { sdsConfigSchema } from '../sds/config.js';
import { identityConfigSchema } from '../identity/config.js';
import { auditConfigSchema } from '../audit/config.js';
import { adminConfigSchema } from '../admin/config.js';
import { rotationConfigSchema } from '../rotation/config.js';
import { keyManagerConfigSchema } from './key-manager.js';
import { httpConfigSchema } from '../telemetry/config.js';
import { stateConfigSchema } from '../state/config.js';
import { defaultUpstreamTimeoutMs } from '../upstream/loader.js';
import { defaultAdminSocketPath } from '../admin/socket-path.js';
import { limits } from '../limits.js';

/**
 * The whole configuration. Sections owned by a subsystem live next to it and are
 * embedded here; this file is the single schema `config/load.ts` validates against.
 */
export const configSchema = z
  .object({
    profile: z
      .enum(['dev', 'production'])
      .default('dev')
      .describe('dev: in-memory root, plaintext SDS on loopback, insecure-dev authenticator. production refuses the self-signed upstream and plaintext SDS.'),
    trustDomain: z.string().default('cluster.local').describe('The SPIFFE trust domain every issued ID belongs to.'),
    listen: z
      .object({
        sds: listenAddress.prefault('127.0.0.1:8234').describe('The SDS gRPC listener Envoy connects to.'),
        http: listenAddress.prefault('127.0.0.1:8235').describe('Health (/healthz, /readyz) and Prometheus /metrics.'),
        // Per user (see admin/socket-path.ts); loadConfig passes its injected environment instead.
        admin: listenAddress
          .prefault(() => `unix:${defaultAdminSocketPath(process.env)}`)
          .meta({
            description: 'The admin API (join tokens, status, the console) on a Unix socket; for TCP with mutual TLS see admin.tcp.',
            defaultText: '`unix:/run/workload-ca/admin.sock` as root, else under `$XDG_RUNTIME_DIR/workload-ca/` or `$TMPDIR/workload-ca-<uid>/`',
          }),
      })
      .strict()
      .prefault({})
      .describe('Where each listener binds.'),
    ca: z
      .object({
        keyType: z.enum(keyTypes).default('ec-p256').describe('Key type of the intermediate.'),
        intermediateTtl: duration.default(24 * 3600).describe('Lifetime of each intermediate; it rotates before it ends.'),
        leafTtl: duration.default(3600).describe('Default lifetime of a leaf (an X.509-SVID).'),
        // A sixth of the intermediate lifetime: a leaf from a fresh intermediate then never needs truncating before rotation.
        leafMaxTtl: duration.default(4 * 3600).describe('Hard maximum leaf lifetime; requests above it are refused. Must be below ca.intermediateTtl.'),
        backdate: duration.default(30).describe('notBefore is backdated by this much to absorb clock skew between peers.'),
        signers: z.number().int().min(0).max(64).default(0).describe('Signing worker threads; 0 = one per CPU core.'),
        // About half a second of signing on two cores: a deeper queue is only latency nobody waits for.
        maxQueuedIssuance: z
          .number()
          .int()
          .min(1)
          .max(limits.signQueueMax)
          .default(8192)
          .describe('Certificate issues queued or signing at once; past it a new one is refused with RESOURCE_EXHAUSTED (ERR_CA_OVERLOADED), a renewal retried later.'),
        maxIssuanceWait: duration
          .pipe(z.number().positive().max(limits.issuanceWaitMaxSeconds))
          .default(0.25)
          .describe('A new certificate (first of a subscriber, CLI or admin issue) is refused with RESOURCE_EXHAUSTED while others already wait longer than this for a signer: bounds the latency of those admitted on a busy machine. Renewals are not refused by it.'),
        keyManager: keyManagerConfigSchema.describe('Where intermediate keys live: memory, or vault-transit (see docs/keys.md).'),
      })
      .strict()
      .refine((ca) => ca.keyManager.type !== 'vault-transit' || ca.keyType === 'ec-p256', {
        path: ['keyType'],
        message: 'the vault-transit key manager holds ecdsa-p256 keys: use keyType ec-p256',
      })
      .prefault({})
      .describe('The intermediate CA: key, lifetimes, signing.'),
    upstream: z
      .object({
        plugin: z
          .string()
          .min(1)
          .default('self-signed')
          .describe('self-signed | disk | pkcs11 | vault | aws-acm-pca, a path to a plugin module (relative to the config file) or an npm package.'),
        config: z.record(z.string(), z.unknown()).default({}).describe("The plugin's own configuration (plugins/README.md)."),
        rootPollInterval: duration
          .pipe(z.number().min(10))
          .default(300)
          .describe("How often the upstream's roots are polled to notice a root rotation."),
        timeout: duration
          .pipe(z.number().min(0.1).max(3600))
          .default(defaultUpstreamTimeoutMs / 1000)
          .describe('Deadline of every call into the plugin; a call that takes longer fails with ERR_UPSTREAM_TIMEOUT and is retried with backoff.'),
      })
      .strict()
      .prefault({})
      .describe('Who signs our intermediate.'),
    http: httpConfigSchema.describe('Connection bounds and timeouts of the health/metrics listener (listen.http).'),
    sds: sdsConfigSchema,
    identity: identityConfigSchema,
    admin: adminConfigSchema.describe('The admin API beyond its Unix socket (listen.admin).'),
    audit: auditConfigSchema.describe('The audit log (see docs/audit.md).'),
    rotation: rotationConfigSchema.describe('When intermediates rotate (see docs/rotation.md).'),
    state: stateConfigSchema,
    shutdownTimeout: duration.pipe(z.number().positive().max(limits.shutdownTimeoutMaxSeconds)).default(10).describe('On SIGTERM/SIGINT every SDS stream ends with UNAVAILABLE at once; connections then get this long to close before they are cut.'),
    log: z
      .object({
        level: z
          .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
          .default('info')
          .describe('Log level.'),
      })
      .strict()
      .prefault({})
      .describe('Logging (JSON lines on stdout).'),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

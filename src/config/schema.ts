import { z } from 'zod';
import { duration } from './duration.js';
import { listenAddress } from './listen.js';
import { keyTypes } from '../ca/types.js';
import { sdsConfigSchema } from '../sds/config.js';
import { identityConfigSchema } from '../identity/config.js';
import { auditConfigSchema } from '../audit/config.js';
import { rotationConfigSchema } from '../rotation/config.js';
import { keyManagerConfigSchema } from '../keys/config.js';
import { defaultUpstreamTimeoutMs } from '../upstream/loader.js';
import { defaultAdminSocketPath } from '../admin/socket-path.js';
import { limits } from '../limits.js';

/**
 * The whole configuration. Sections owned by a subsystem live next to it and are
 * embedded here; this file is the single schema `config/load.ts` validates against.
 */
export const configSchema = z
  .object({
    /** dev: in-memory root, plaintext SDS on loopback, insecure-dev authenticator. */
    profile: z.enum(['dev', 'production']).default('dev'),
    trustDomain: z.string().default('cluster.local'),
    listen: z
      .object({
        sds: listenAddress.prefault('127.0.0.1:8234'),
        http: listenAddress.prefault('127.0.0.1:8235'),
        // Per user (see admin/socket-path.ts); loadConfig passes its injected environment instead.
        admin: listenAddress.prefault(() => `unix:${defaultAdminSocketPath(process.env)}`),
      })
      .strict()
      .prefault({}),
    ca: z
      .object({
        keyType: z.enum(keyTypes as [string, ...string[]]).default('ec-p256'),
        intermediateTtl: duration.default(24 * 3600),
        leafTtl: duration.default(3600),
        // A sixth of the intermediate lifetime: a leaf from a fresh intermediate then never needs truncating before rotation.
        leafMaxTtl: duration.default(4 * 3600),
        /** notBefore is backdated by this much to absorb clock skew between peers. */
        backdate: duration.default(30),
        /** Signing worker threads; 0 = one per CPU core. */
        signers: z.number().int().min(0).max(64).default(0),
        /** Where intermediate keys live: memory (default) or vault-transit. */
        keyManager: keyManagerConfigSchema,
      })
      .strict()
      .refine((ca) => ca.keyManager.type !== 'vault-transit' || ca.keyType === 'ec-p256', {
        path: ['keyType'],
        message: 'the vault-transit key manager holds ecdsa-p256 keys: use keyType ec-p256',
      })
      .prefault({}),
    upstream: z
      .object({
        plugin: z.string().min(1).default('self-signed'),
        config: z.record(z.string(), z.unknown()).default({}),
        /** How often the upstream's roots are polled to notice a root rotation. */
        rootPollInterval: duration.pipe(z.number().min(10)).default(300),
        /** Deadline of every call into the plugin; a call that takes longer is a failed (retried) step. */
        timeout: duration.pipe(z.number().min(0.1).max(3600)).default(defaultUpstreamTimeoutMs / 1000),
      })
      .strict()
      .prefault({}),
    sds: sdsConfigSchema,
    identity: identityConfigSchema,
    audit: auditConfigSchema,
    rotation: rotationConfigSchema,
    /** On SIGTERM/SIGINT every SDS stream ends with UNAVAILABLE at once; connections then get this long to close before they are cut. */
    shutdownTimeout: duration.pipe(z.number().positive().max(limits.shutdownTimeoutMaxSeconds)).default(10),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

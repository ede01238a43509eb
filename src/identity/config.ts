import { z } from 'zod';
import { duration } from '../config/duration.js';
import { limits } from '../limits.js';
import { jwtConfigSchema, tokenReviewConfigSchema } from './jwt/config.js';
import { policyConfigSchema } from './policy/config.js';

/** The `identity:` section (authenticators and policy). Owned by src/identity/. */
export const identityConfigSchema = z
  .object({
    /** `unix` authenticator: the one SPIFFE ID a Unix-socket SDS listener serves. */
    unix: z.object({ spiffeId: z.string(), socketMode: z.enum(['0600', '0660']).default('0600') }).strict().optional(),
    /** `jwt` authenticator: bearer tokens verified locally against the issuers' keys. */
    jwt: jwtConfigSchema.optional(),
    /** `tokenreview` authenticator: bearer tokens checked by the Kubernetes API server. */
    tokenReview: tokenReviewConfigSchema.optional(),
    /** `join-token` authenticator: one-time tokens minted through the admin API. */
    joinToken: z
      .object({
        maxTtl: duration.pipe(z.number().min(1).max(limits.joinTokenMaxTtlSeconds)).default(24 * 3600),
        /** The same machine may present a used token again this long (one SDS stream per secret). */
        reuseWindow: duration.pipe(z.number().min(0).max(300)).default(30),
      })
      .strict()
      .prefault({}),
    /** `mtls` authenticator: renewal with an SVID of ours. */
    mtls: z
      .object({
        /** A renewal lineage older than this must present its original credential again; unset: no limit. */
        lineageMaxAge: duration.pipe(z.number().positive()).optional(),
      })
      .strict()
      .prefault({}),
    policy: policyConfigSchema,
  })
  .strict()
  .prefault({});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

import { z } from 'zod';
import { duration } from '../duration.js';
import { limits } from '../limits.js';
import { jwtConfigSchema, tokenReviewConfigSchema } from './jwt/config.js';
import { policyConfigSchema } from './policy/config.js';

/** The `identity:` section (authenticators and policy). Owned by src/identity/. */
export const identityConfigSchema = z
  .object({
    unix: z
      .object({
        spiffeId: z.string().describe('The SPIFFE ID served to every caller of the Unix socket; a workload ID of our trust domain.'),
        socketMode: z.enum(['0600', '0660']).default('0600').describe('File mode of the SDS socket: 0600 (owner) or 0660 (owner and group).'),
      })
      .strict()
      .optional()
      .describe('`unix` authenticator: the one SPIFFE ID a Unix-socket SDS listener serves.'),
    jwt: jwtConfigSchema.optional().describe('`jwt` authenticator: bearer tokens verified locally against the issuers\' keys.'),
    tokenReview: tokenReviewConfigSchema.optional().describe('`tokenreview` authenticator: bearer tokens checked by the Kubernetes API server.'),
    joinToken: z
      .object({
        maxTtl: duration.pipe(z.number().min(1).max(limits.joinTokenMaxTtlSeconds)).default(24 * 3600).describe('Longest lifetime a join token may be created with.'),
        reuseWindow: duration.pipe(z.number().min(0).max(300)).default(30).describe('The same machine may present a used token again this long (one SDS stream per secret).'),
      })
      .strict()
      .prefault({})
      .describe('`join-token` authenticator: one-time tokens minted through the admin API.'),
    mtls: z
      .object({
        lineageMaxAge: duration.pipe(z.number().positive()).optional().describe('A renewal lineage older than this must present its original credential again; unset: no limit.'),
      })
      .strict()
      .prefault({})
      .describe('`mtls` authenticator: renewal with an SVID of ours.'),
    policy: policyConfigSchema.describe('Which authenticated caller gets which SPIFFE ID (docs/identity.md).'),
  })
  .strict()
  .prefault({})
  .describe('Authenticators and policy rules (docs/identity.md).');

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

import { z } from 'zod';

/** The `identity:` section (authenticators and policy). Owned by src/identity/. */
export const identityConfigSchema = z
  .object({
    /** `unix` authenticator: the one SPIFFE ID a Unix-socket SDS listener serves. */
    unix: z.object({ spiffeId: z.string(), socketMode: z.enum(['0600', '0660']).default('0600') }).strict().optional(),
  })
  .strict()
  .prefault({});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

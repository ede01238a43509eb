import { z } from 'zod';

/** The `sds:` section. Owned by the SDS server; the top-level schema embeds it. */
export const sdsConfigSchema = z
  .object({
    /** Resource name of the caller's own certificate and key. */
    certificateName: z.string().min(1).default('default'),
    /** Resource name of the trust bundle. */
    bundleName: z.string().min(1).default('ROOTCA'),
    /** Use envoy.tls.cert_validator.spiffe for Envoy >= 1.18. */
    spiffeValidator: z.boolean().default(true),
    /** Transport security of the TCP listener: mtls | tls | plaintext (dev profile on loopback only). */
    transport: z.enum(['mtls', 'tls', 'plaintext']).optional(),
    /** Authenticators tried in order on the SDS listener. */
    authenticators: z.array(z.string()).optional(),
  })
  .strict()
  .prefault({});

export type SdsConfig = z.infer<typeof sdsConfigSchema>;

/**
 * The disk plugin's configuration: the one pure builder used by the loader's
 * validation, create() and `workload-ca upstream check`.
 */
import { z } from 'zod';

export const configSchema = z
  .object({
    /** PEM: the signing CA certificate, optionally followed by its chain (nearest first). */
    certFile: z.string().min(1),
    /** PEM private key (PKCS#8, possibly encrypted; or PKCS#1/SEC1). */
    keyFile: z.string().min(1),
    /**
     * PEM root certificates for the trust bundle. Optional only when the last
     * certificate in certFile is self-signed (that root is then the bundle).
     */
    bundleFile: z.string().min(1).optional(),
    /** Name of the environment variable holding the key's passphrase. */
    keyPassphraseEnv: z.string().min(1).optional(),
    /** File holding the key's passphrase. */
    keyPassphraseFile: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => !(c.keyPassphraseEnv && c.keyPassphraseFile), {
    message: 'set keyPassphraseEnv or keyPassphraseFile, not both',
    path: ['keyPassphraseFile'],
  });

export type DiskConfig = z.infer<typeof configSchema>;

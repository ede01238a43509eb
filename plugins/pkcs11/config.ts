/**
 * The pkcs11 plugin's configuration: the one pure builder used by the loader's
 * validation, create() and `workload-ca upstream check`. Secrets (the PIN) come
 * from an environment variable or a file, never from the config itself.
 */
import { z } from 'zod';

const exactlyOne = (...keys: string[]) => (c: Record<string, unknown>) => keys.filter((k) => c[k] !== undefined).length === 1;

export const configSchema = z
  .object({
    /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
    module: z.string().min(1),
    /** Token to use, by label... */
    tokenLabel: z.string().min(1).max(32).optional(),
    /** ...or by slot ID (as `pkcs11-tool --list-slots` prints it). */
    slot: z.number().int().nonnegative().optional(),
    pinEnv: z.string().min(1).optional(),
    pinFile: z.string().min(1).optional(),
    /** The private key, by CKA_LABEL and/or CKA_ID (hex). */
    keyLabel: z.string().min(1).optional(),
    keyId: z.string().regex(/^([0-9a-fA-F]{2})+$/, 'hex bytes, e.g. "01"').optional(),
    /** The CA certificate: a PEM file (optionally followed by its chain)... */
    certFile: z.string().min(1).optional(),
    /** ...or a certificate object on the token, by CKA_LABEL. */
    certLabel: z.string().min(1).optional(),
    /** Root certificates (PEM); optional when the CA certificate is self-signed. */
    bundleFile: z.string().min(1).optional(),
  })
  .strict()
  .refine(exactlyOne('tokenLabel', 'slot'), { message: 'set exactly one of tokenLabel or slot', path: ['tokenLabel'] })
  .refine(exactlyOne('pinEnv', 'pinFile'), { message: 'set exactly one of pinEnv or pinFile', path: ['pinEnv'] })
  .refine((c) => c.keyLabel !== undefined || c.keyId !== undefined, { message: 'set keyLabel and/or keyId', path: ['keyLabel'] })
  .refine(exactlyOne('certFile', 'certLabel'), { message: 'set exactly one of certFile or certLabel', path: ['certFile'] });

export type Pkcs11Config = z.infer<typeof configSchema>;

/**
 * The vault plugin's configuration: one zod schema that validates the operator's
 * input (errors carry the field path) and derives every Vault path the plugin
 * calls, so the rest of the plugin never formats a URL from raw config.
 *
 * Secrets (token, AppRole secret ID, Kubernetes JWT) are never config values:
 * the config names an environment variable or a file holding them.
 */
import { z } from 'zod';

/** A Vault path segment: mount names and issuer refs may not escape their mount. */
export const segment = (what: string) =>
  z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, `${what} must be a Vault path like "pki" or "pki/int" (no leading or trailing slash)`)
    .refine((s) => !s.split('/').includes('..'), `${what} must not contain ".."`);

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').describe('Environment variable holding the secret.');

/** Where a secret comes from: exactly one of an environment variable or a file. */
const secretSource = (defaultEnv?: string) =>
  z
    .object({ env: envName.optional(), file: z.string().min(1).optional().describe('File holding the secret, re-read on every login.') })
    .strict()
    .refine((s) => !(s.env && s.file), 'set either env or file, not both')
    .transform((s, ctx): { env: string } | { file: string } => {
      if (s.file) return { file: s.file };
      const env = s.env ?? defaultEnv;
      if (!env) {
        ctx.addIssue({ code: 'custom', message: 'set env (a variable name) or file (a path)' });
        return z.NEVER;
      }
      return { env };
    });

const tokenAuth = z
  .object({
    method: z.literal('token').describe('token | approle | kubernetes: how to log in to Vault.'),
    token: secretSource('VAULT_TOKEN').prefault({}).describe('method token: where the token is (env, default VAULT_TOKEN, or file).'),
  })
  .strict();

const appRoleAuth = z
  .object({
    method: z.literal('approle'),
    mount: segment('auth.mount').default('approle').describe('Mount of the auth method (approle or kubernetes by default).'),
    roleId: z.string().min(1).describe('method approle: the role ID.'),
    secretId: secretSource('VAULT_APPROLE_SECRET_ID').prefault({}).describe('method approle: where the secret ID is (env, default VAULT_APPROLE_SECRET_ID, or file).'),
  })
  .strict();

const kubernetesAuth = z
  .object({
    method: z.literal('kubernetes'),
    mount: segment('auth.mount').default('kubernetes'),
    role: z.string().min(1).describe('method kubernetes: the Vault role to log in as.'),
    jwtFile: z.string().min(1).default('/var/run/secrets/kubernetes.io/serviceaccount/token').describe("method kubernetes: the pod's service account token."),
  })
  .strict();

/** Token, AppRole or Kubernetes login; shared with the vault-transit key manager. */
export const vaultAuthSchema = z.discriminatedUnion('method', [tokenAuth, appRoleAuth, kubernetesAuth]).describe('How to log in to Vault.');

export const vaultConfigSchema = z
  .object({
    /** Vault's address, e.g. https://vault.example.com:8200. */
    address: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://vault:8200' }),
    /** Vault Enterprise or OpenBao namespace, sent as X-Vault-Namespace; checked to exist and be honoured. */
    namespace: z.string().min(1).optional(),
    /** PEM file with the CA(s) that sign Vault's TLS certificate. */
    caFile: z.string().min(1).optional(),
    pkiMount: segment('pkiMount').default('pki'),
    /** Sign with this issuer (name or ID); otherwise the mount's default issuer. */
    issuerRef: segment('issuerRef').optional(),
    /** CN Vault puts on our intermediate; defaults to the CSR's CN. */
    commonName: z.string().min(1).max(64).optional(),
    auth: vaultAuthSchema,
    requestTimeoutMs: z.number().int().min(100).max(300_000).default(30_000),
    /** Renew the token when this fraction of its TTL has passed. */
    renewAtFraction: z.number().gt(0).lt(1).default(2 / 3),
  })
  .strict()
  .transform((c) => ({
    ...c,
    paths: {
      sign: c.issuerRef ? `${c.pkiMount}/issuer/${c.issuerRef}/sign-intermediate` : `${c.pkiMount}/root/sign-intermediate`,
      // The issuer's JSON carries its full chain; cert/ca_chain is the JSON form for the default issuer.
      bundle: c.issuerRef ? `${c.pkiMount}/issuer/${c.issuerRef}/json` : `${c.pkiMount}/cert/ca_chain`,
      revoke: `${c.pkiMount}/revoke`,
    },
  }));

export type VaultConfigInput = z.input<typeof vaultConfigSchema>;
export type VaultConfig = z.output<typeof vaultConfigSchema>;
export type VaultAuthConfig = VaultConfig['auth'];

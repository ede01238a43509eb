import { z } from 'zod';
import { duration } from '../../duration.js';

/**
 * Asymmetric JWS algorithms only: HMAC would let anyone holding the (public) JWKS
 * mint tokens, and `none` is no signature at all.
 */
const jwtAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** Istio's reading of a Kubernetes projected service account token. */
const kubernetesClaimMap: Readonly<Record<string, string>> = Object.freeze({
  namespace: 'kubernetes.io/namespace',
  serviceAccount: 'kubernetes.io/serviceaccount/name',
  podName: 'kubernetes.io/pod/name',
});

/** Set by the authenticators or the policy itself; a token must not be able to supply them. */
const reservedClaimNames = new Set(['issuer', 'audience', 'dnsNames', 'trustDomain', 'bound', 'spiffeId', 'tokenId']);

/** True for https:// URLs and http:// on loopback. Not a URL at all is false, never a throw. */
function isHttpsOrLoopback(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
}

const httpsOrLoopbackMessage = 'must be an https:// URL (http:// only on loopback)';
// zod runs a refinement even after z.url() failed, so the refinement must not assume a URL.
const httpsOrLoopbackUrl = z.url().refine(isHttpsOrLoopback, { message: httpsOrLoopbackMessage });

const keySource = z.union([
  z.object({ jwksUri: httpsOrLoopbackUrl.describe('Fetch the issuer\'s keys (JWKS) from this URL.') }).strict(),
  z.object({ discovery: z.literal(true).describe('Fetch `<issuer>/.well-known/openid-configuration` and follow its jwks_uri.') }).strict(),
  z.object({ jwksFile: z.string().min(1).describe('Read the keys (JWKS) from this file, relative to the config file.') }).strict(),
]).describe('Where the issuer\'s signing keys come from: exactly one of jwksUri, discovery, jwksFile.');

const jwtIssuerSchema = z
  .object({
    issuer: z.string().min(1).describe('The `iss` claim tokens must carry.'),
    audiences: z.array(z.string().min(1)).min(1).describe('A token must carry one of these in `aud`.'),
    keys: keySource,
    algorithms: z.array(z.enum(jwtAlgorithms)).min(1).default(['RS256', 'ES256']).describe('Accepted signature algorithms (asymmetric only).'),
    clockSkew: duration.pipe(z.number().max(300)).default(30).describe('Tolerated clock difference for exp/nbf; kept small on purpose.'),
    fetchTimeout: duration.pipe(z.number().positive().max(60)).default(5).describe('Deadline of each key (or discovery) fetch.'),
    cacheMaxAge: duration.pipe(z.number().positive()).default(3600).describe('Keys are refetched after this age even without an unknown kid.'),
    refreshCooldown: duration.pipe(z.number().min(1)).default(30).describe('At most one refetch per this interval when a token names an unknown kid.'),
    instanceClaim: z
      .string()
      .min(1)
      .default('kubernetes.io/pod/uid')
      .describe(
        '"/"-separated path of the claim naming the running instance (a pod\'s UID in Kubernetes tokens): instances never share a key. A token without it is its own instance, so a refreshed token gets a fresh key.',
      ),
    claims: z
      .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/), z.string().min(1))
      .refine((map) => !Object.keys(map).some((name) => reservedClaimNames.has(name)), {
        message: `claim names ${[...reservedClaimNames].join(', ')} are reserved`,
      })
      .default({ ...kubernetesClaimMap })
      .describe('Caller claim name → "/"-separated path in the token payload (claim names contain dots).'),
  })
  .strict()
  // OIDC discovery fetches <issuer>/.well-known/openid-configuration: the issuer must be a URL we may fetch.
  .refine((c) => !('discovery' in c.keys) || isHttpsOrLoopback(c.issuer), {
    message: `with keys.discovery the issuer ${httpsOrLoopbackMessage}`,
    path: ['issuer'],
  });

export const jwtConfigSchema = z
  .object({ issuers: z.array(jwtIssuerSchema).min(1).describe('The token issuers trusted; each listed once.') })
  .strict()
  .refine((c) => new Set(c.issuers.map((i) => i.issuer)).size === c.issuers.length, {
    message: 'each issuer may be listed once',
  });

export const tokenReviewConfigSchema = z
  .object({
    apiServer: httpsOrLoopbackUrl.describe('API server base URL, e.g. https://kubernetes.default.svc.'),
    caFile: z.string().min(1).optional().describe('CA bundle that signed the API server\'s certificate.'),
    tokenFile: z.string().min(1).default('/var/run/secrets/kubernetes.io/serviceaccount/token').describe('Our own service account token (re-read on every review: kubelet rotates it).'),
    audiences: z.array(z.string().min(1)).default([]).describe('Audiences the reviewed token must carry; the API server\'s default when empty.'),
    timeout: duration.pipe(z.number().positive().max(60)).default(5).describe('Deadline of each TokenReview call.'),
  })
  .strict();

export type JwtIssuerConfig = z.infer<typeof jwtIssuerSchema>;
export type JwtConfig = z.infer<typeof jwtConfigSchema>;
export type TokenReviewConfig = z.infer<typeof tokenReviewConfigSchema>;

import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { systemClock } from '../src/clock.js';
import { JwtAuthenticator } from '../src/identity/jwt/authenticator.js';
import { jwtConfigSchema } from '../src/identity/jwt/config.js';
import { silentLogger } from '../src/telemetry/logger.js';

export const BENCH_JWT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface BenchJwtIssuer {
  jwk: JWK;
  /** A Kubernetes service-account token for shop/cart, pod `cart-<pod>`, valid for an hour. */
  mint(pod: number): Promise<string>;
  /** A JwtAuthenticator trusting this issuer, its JWKS served from memory. */
  authenticator(): JwtAuthenticator;
}

/** An ES256 token issuer and a JwtAuthenticator with a cached JWKS, for benchmarks. */
export async function benchJwtIssuer(): Promise<BenchJwtIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256' };
  const now = Math.floor(Date.now() / 1000);
  return {
    jwk,
    mint: (pod) =>
      new SignJWT({
        sub: 'system:serviceaccount:shop:cart',
        'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart' }, pod: { name: `cart-${pod}` } },
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'JWT' })
        .setIssuer(BENCH_JWT_ISSUER)
        .setAudience('workload-ca')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(privateKey),
    authenticator: () =>
      new JwtAuthenticator({
        config: jwtConfigSchema.parse({ issuers: [{ issuer: BENCH_JWT_ISSUER, audiences: ['workload-ca'], keys: { jwksFile: 'unused' } }] }),
        clock: systemClock,
        logger: silentLogger(),
        loaderFor: () => async () => ({ keys: [jwk] }),
      }),
  };
}

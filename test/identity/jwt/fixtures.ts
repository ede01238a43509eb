import type http from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { HttpTestServer } from '../../fakes/http-test-server.js';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid: string, alg: 'ES256' | 'RS256' | 'EdDSA' = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A Kubernetes projected service account token's claims (see the TokenRequest API). */
export function kubernetesClaims(namespace: string, serviceAccount: string, nowSeconds: number): JWTPayload {
  return {
    iss: 'https://kubernetes.default.svc.cluster.local',
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    aud: ['workload-ca'],
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + 3600,
    'kubernetes.io': {
      namespace,
      pod: { name: `${serviceAccount}-7d9f8b-x2x7q`, uid: '2f4f3e9a-0000-4000-8000-000000000001' },
      serviceaccount: { name: serviceAccount, uid: '9b1c0d2e-0000-4000-8000-000000000002' },
    },
  };
}

export function sign(key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export type JwksMode = 'ok' | 'hang' | 'garbage' | 'not-jwks';

/** A local OIDC issuer: discovery document and JWKS over real HTTP on port 0. */
export class TestIssuer extends HttpTestServer {
  keys: JWK[] = [];
  mode: JwksMode = 'ok';
  jwksRequests = 0;

  get jwksUri(): string {
    return `${this.url}/keys`;
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: this.url, jwks_uri: this.jwksUri, id_token_signing_alg_values_supported: ['ES256'] }));
      return;
    }
    if (req.url !== '/keys') {
      res.statusCode = 404;
      res.end('{}');
      return;
    }
    this.jwksRequests++;
    if (this.mode === 'hang') return; // open until the client gives up or the server stops
    res.setHeader('content-type', 'application/json');
    if (this.mode === 'garbage') res.end('<html>502 Bad Gateway</html>');
    else if (this.mode === 'not-jwks') res.end(JSON.stringify({ hello: 'world' }));
    else res.end(JSON.stringify({ keys: this.keys }));
  }
}

export function metadataWith(authorization?: string): Map<string, string[]> {
  return new Map(authorization === undefined ? [] : [['authorization', [authorization]]]);
}

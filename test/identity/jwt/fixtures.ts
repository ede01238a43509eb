import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { pino } from 'pino';
import { redactPaths, type Logger } from '../../../src/telemetry/logger.js';

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
export class TestIssuer {
  keys: JWK[] = [];
  mode: JwksMode = 'ok';
  jwksRequests = 0;
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private readonly hanging: http.ServerResponse[] = [];

  static async start(): Promise<TestIssuer> {
    const issuer = new TestIssuer();
    await new Promise<void>((resolve) => issuer.server.listen(0, '127.0.0.1', resolve));
    return issuer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get jwksUri(): string {
    return `${this.url}/keys`;
  }

  async close(): Promise<void> {
    this.hanging.forEach((res) => res.destroy());
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
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
    if (this.mode === 'hang') {
      this.hanging.push(res);
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (this.mode === 'garbage') res.end('<html>502 Bad Gateway</html>');
    else if (this.mode === 'not-jwks') res.end(JSON.stringify({ hello: 'world' }));
    else res.end(JSON.stringify({ keys: this.keys }));
  }
}

/** A logger writing into memory, with production redaction, so tests can grep for leaked tokens. */
export function captureLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'trace', redact: { paths: redactPaths, censor: '[REDACTED]' } }, sink);
  return { logger, text: () => lines.join('') };
}

export function metadataWith(authorization?: string): Map<string, string[]> {
  return new Map(authorization === undefined ? [] : [['authorization', [authorization]]]);
}

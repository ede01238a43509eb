import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface ReviewedUser {
  username: string;
  extra?: Record<string, string[]>;
  audiences: string[];
}

/**
 * A local stand-in for kube-apiserver that follows the documented TokenReview API
 * (POST /apis/authentication.k8s.io/v1/tokenreviews, authentication.k8s.io/v1,
 * 201 Created with status.{authenticated,user,audiences,error}; 401 with a Status
 * object for an unauthenticated caller), over real TLS with a certificate made at
 * test time. Only tokens in `users` authenticate.
 */
export class KubeApiServer {
  readonly users = new Map<string, ReviewedUser>();
  readonly requests: { authorization: string | undefined; body: unknown }[] = [];
  private server!: https.Server;
  caPem = '';

  constructor(private readonly reviewerToken: string) {}

  async start(): Promise<void> {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=kube-apiserver test',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3600_000),
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
      ],
    });
    this.caPem = cert.toString('pem');
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
    const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
    this.server = https.createServer({ cert: this.caPem, key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => this.handle(req.method, req.url, req.headers.authorization, body, res));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(method: string | undefined, url: string | undefined, authorization: string | undefined, raw: string, res: import('node:http').ServerResponse) {
    const send = (code: number, value: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const status = (code: number, reason: string, message: string) =>
      send(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
    if (method !== 'POST' || url !== '/apis/authentication.k8s.io/v1/tokenreviews') return status(404, 'NotFound', 'the server could not find the requested resource');
    if (authorization !== `Bearer ${this.reviewerToken}`) return status(401, 'Unauthorized', 'Unauthorized');
    const review = JSON.parse(raw) as { apiVersion?: string; kind?: string; spec?: { token?: string; audiences?: string[] } };
    this.requests.push({ authorization, body: review });
    if (review.apiVersion !== 'authentication.k8s.io/v1' || review.kind !== 'TokenReview' || !review.spec?.token) {
      return status(400, 'BadRequest', 'invalid TokenReview');
    }
    const user = this.users.get(review.spec.token);
    const wanted = review.spec.audiences ?? ['https://kubernetes.default.svc.cluster.local'];
    const audiences = user ? user.audiences.filter((a) => wanted.includes(a)) : [];
    const authenticated = user !== undefined && audiences.length > 0;
    send(201, {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { ...review.spec, token: undefined },
      status: authenticated
        ? { authenticated: true, user: { username: user.username, uid: 'u-1', groups: ['system:serviceaccounts'], extra: user.extra ?? {} }, audiences }
        : { user: {}, error: user ? '[invalid bearer token, token audiences is invalid]' : '[invalid bearer token, service account token has been invalidated]' },
    });
  }
}

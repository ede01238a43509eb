import type http from 'node:http';
import * as x509 from '@peculiar/x509';
import { HttpTestServer, readBody } from '../../fakes/http-test-server.js';
import { generateTestKeys, privateKeyPem } from '../../fakes/upstream-ca.js';

export interface ReviewedUser {
  username: string;
  /** The object's UID; for a service account, the one its tokens carry (Vault compares them). */
  uid?: string;
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
export class KubeApiServer extends HttpTestServer {
  readonly users = new Map<string, ReviewedUser>();
  readonly requests: { authorization: string | undefined; body: unknown }[] = [];
  caPem = '';

  constructor(private readonly reviewerToken: string) {
    super();
  }

  /** Serves HTTPS with a fresh self-signed certificate for 127.0.0.1 (its PEM in `caPem`). */
  override async start(): Promise<this> {
    const keys = await generateTestKeys('ec-p256');
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=kube-apiserver test',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3600_000),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
      ],
    });
    this.caPem = cert.toString('pem');
    this.tls = { cert: this.caPem, key: await privateKeyPem(keys) };
    return super.start();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { method, url } = req;
    const authorization = req.headers.authorization;
    const raw = (await readBody(req)).toString('utf8');
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
    // Like the real apiserver, a body without apiVersion/kind takes them from the URL (Vault's client sends none).
    const apiVersion = review.apiVersion ?? 'authentication.k8s.io/v1';
    const kind = review.kind ?? 'TokenReview';
    if (apiVersion !== 'authentication.k8s.io/v1' || kind !== 'TokenReview' || !review.spec?.token) {
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
        ? { authenticated: true, user: { username: user.username, uid: user.uid ?? 'u-1', groups: ['system:serviceaccounts'], extra: user.extra ?? {} }, audiences }
        : { user: {}, error: user ? '[invalid bearer token, token audiences is invalid]' : '[invalid bearer token, service account token has been invalidated]' },
    });
  }
}

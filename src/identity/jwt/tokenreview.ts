import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { WcaError, type ReasonOf } from '../../errors.js';
import type { Authenticator, Caller, CallerContext } from '../types.js';
import { readBearer } from './bearer.js';
import type { TokenReviewConfig } from './config.js';
import { httpJson } from './http.js';
import { VerifiedTokenCache } from './verified-cache.js';

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';
/** system:serviceaccount:<namespace>:<name>, as the API server names service accounts. */
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;
const POD_NAME = 'authentication.kubernetes.io/pod-name';
const POD_UID = 'authentication.kubernetes.io/pod-uid';

const reviewResponse = z.object({
  status: z.object({
    authenticated: z.boolean().optional(),
    error: z.string().optional(),
    audiences: z.array(z.string()).optional(),
    user: z
      .object({
        username: z.string().optional(),
        uid: z.string().optional(),
        extra: z.record(z.string(), z.array(z.string())).optional(),
      })
      .optional(),
  }),
});

/**
 * Bearer JWTs checked by the Kubernetes API server (TokenReview) rather than
 * locally: slower, but a token whose pod or service account was deleted stops
 * working at once instead of at its expiry.
 */
export class TokenReviewAuthenticator implements Authenticator {
  readonly name = 'tokenreview';
  private ca: Promise<string | undefined> | undefined;

  constructor(private readonly config: TokenReviewConfig) {}

  async authenticate(context: CallerContext): Promise<Caller | null> {
    const bearer = readBearer(context.metadata);
    if (bearer === null || bearer.kind !== 'jwt') return null;
    const status = await this.review(bearer.token);
    if (status.authenticated !== true) {
      const why = status.error ? `: ${status.error.slice(0, 200)}` : '';
      fail(`Kubernetes TokenReview did not authenticate the token${why}`, 'not-authenticated');
    }
    const audiences = this.config.audiences;
    // The API docs ask clients that set spec.audiences to check the answer names one of them.
    if (audiences.length > 0 && !(status.audiences ?? []).some((a) => audiences.includes(a))) {
      fail(`Kubernetes TokenReview authenticated the token for none of the audiences ${audiences.join(', ')}`, 'audience');
    }
    const username = status.user?.username ?? '';
    const sa = SERVICE_ACCOUNT_USER.exec(username);
    if (!sa) fail(`TokenReview user "${username.slice(0, 128)}" is not a service account`, 'not-service-account');
    const podName = status.user?.extra?.[POD_NAME]?.[0];
    // A bound token names its pod; an unbound (legacy) one is its own instance.
    const podUid = status.user?.extra?.[POD_UID]?.[0];
    return {
      authenticator: this.name,
      subject: username,
      claims: Object.freeze({
        namespace: sa[1],
        serviceAccount: sa[2],
        audience: status.audiences ?? [],
        ...(podName === undefined ? {} : { podName }),
      }),
      instance: podUid ? `pod:${podUid}` : `token:${VerifiedTokenCache.keyOf(bearer.token)}`,
    };
  }

  private async review(token: string) {
    const url = new URL(TOKEN_REVIEWS, this.config.apiServer);
    let response;
    try {
      const [ca, credential] = await Promise.all([this.caPem(), readFile(this.config.tokenFile, 'utf8')]);
      response = await httpJson(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${credential.trim()}` },
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(this.config.audiences.length > 0 ? { audiences: this.config.audiences } : {}) },
        },
        ...(ca === undefined ? {} : { ca }),
        timeoutMs: this.config.timeout * 1000,
        maxBytes: 64 * 1024,
      });
    } catch (err) {
      // fs and http errors name paths and URLs, never file contents or tokens.
      fail(`Kubernetes TokenReview failed: ${(err as Error).message}`, 'review-unavailable');
    }
    if (response.status !== 201 && response.status !== 200) {
      fail(`Kubernetes TokenReview failed: API server answered HTTP ${response.status}`, 'review-unavailable');
    }
    const parsed = reviewResponse.safeParse(response.body);
    if (!parsed.success) fail('Kubernetes TokenReview failed: the answer is not a TokenReview', 'review-unavailable');
    return parsed.data.status;
  }

  private caPem(): Promise<string | undefined> {
    const caFile = this.config.caFile;
    this.ca ??=
      caFile === undefined
        ? Promise.resolve(undefined)
        : readFile(caFile, 'utf8').catch((err: unknown) => {
            this.ca = undefined; // retry on the next review: the file may be mounted late
            throw err;
          });
    return this.ca;
  }
}

function fail(message: string, reason: ReasonOf<'ERR_UNAUTHENTICATED'>): never {
  throw new WcaError('ERR_UNAUTHENTICATED', message, { details: { reason } });
}

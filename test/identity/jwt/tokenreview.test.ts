import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWcaError } from '../../../src/errors.js';
import { tokenReviewConfigSchema } from '../../../src/identity/jwt/config.js';
import { TokenReviewAuthenticator } from '../../../src/identity/jwt/tokenreview.js';
import { KubeApiServer } from './kube-apiserver.js';
import { metadataWith } from './fixtures.js';

const REVIEWER = 'reviewer-sa-token-for-tests';
const CART = 'eyJ.cart-pod-token.sig';
let api: KubeApiServer;
let dir: string;

beforeAll(async () => {
  api = new KubeApiServer(REVIEWER);
  await api.start();
  api.users.set(CART, {
    username: 'system:serviceaccount:shop:cart',
    extra: { 'authentication.kubernetes.io/pod-name': ['cart-7d9f8b-x2x7q'], 'authentication.kubernetes.io/pod-uid': ['2f4f3e9a-0000-4000-8000-000000000001'] },
    audiences: ['workload-ca'],
  });
  api.users.set('eyJ.user-token.sig', { username: 'alice@example.com', audiences: ['workload-ca'] });
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-tokenreview-'));
  // Stands in for the kubelet-mounted service account token and cluster CA.
  await writeFile(path.join(dir, 'token'), `${REVIEWER}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, 'ca.crt'), api.caPem);
});
afterAll(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

const authenticator = (overrides: Record<string, unknown> = {}) =>
  new TokenReviewAuthenticator(
    tokenReviewConfigSchema.parse({
      apiServer: api.url,
      caFile: path.join(dir, 'ca.crt'),
      tokenFile: path.join(dir, 'token'),
      audiences: ['workload-ca'],
      timeout: '5s',
      ...overrides,
    }),
  );
const context = (token: string) => ({ transport: 'tcp' as const, peerAddress: '10.1.2.3:5', metadata: metadataWith(`Bearer ${token}`) });

describe('TokenReviewAuthenticator against a local server following the Kubernetes TokenReview API', () => {
  it('authenticates a live service account token over TLS and maps namespace, service account and pod', async () => {
    const caller = await authenticator().authenticate(context(CART));
    expect(caller).toEqual({
      authenticator: 'tokenreview',
      subject: 'system:serviceaccount:shop:cart',
      claims: { namespace: 'shop', serviceAccount: 'cart', audience: ['workload-ca'], podName: 'cart-7d9f8b-x2x7q' },
      instance: 'pod:2f4f3e9a-0000-4000-8000-000000000001',
    });
    expect(api.requests.at(-1)).toEqual({
      authorization: `Bearer ${REVIEWER}`,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: CART, audiences: ['workload-ca'] } },
    });
  });

  it.each([
    ['a deleted pod’s token', 'eyJ.deleted-pod.sig', {}, /did not authenticate the token: \[invalid bearer token, service account token has been invalidated\]/, 'not-authenticated'],
    ['a token for another audience', CART, { audiences: ['vault'] }, /did not authenticate the token: \[invalid bearer token, token audiences is invalid\]/, 'not-authenticated'],
    ['a user that is not a service account', 'eyJ.user-token.sig', {}, /user "alice@example.com" is not a service account/, 'not-service-account'],
    ['a wrong reviewer credential (API server says 401)', CART, { tokenFile: '/dev/null' }, /API server answered HTTP 401/, 'review-unavailable'],
    ['an API server whose certificate we do not trust', CART, { caFile: undefined }, /Kubernetes TokenReview failed: .*certificate/i, 'review-unavailable'],
  ])('denies %s', async (_name, token, overrides, message, reason) => {
    const err = await authenticator(overrides).authenticate(context(token)).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_UNAUTHENTICATED')).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(token);
    expect((err as Error).message).not.toContain(REVIEWER);
    expect((err as { details: unknown }).details).toEqual({ reason });
  });

  it('ignores join tokens and absent credentials', async () => {
    const auth = authenticator();
    expect(await auth.authenticate({ transport: 'tcp', peerAddress: 'x', metadata: new Map() })).toBeNull();
    expect(await auth.authenticate(context('wcajt_abc'))).toBeNull();
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, base64url, exportSPKI, importJWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JwtAuthenticator } from '../../../src/identity/jwt/authenticator.js';
import { jwtConfigSchema } from '../../../src/identity/jwt/config.js';
import type { CallerContext } from '../../../src/identity/types.js';
import { isWcaError } from '../../../src/errors.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { capturingLogger } from '../../fakes/upstream-ca.js';
import { kubernetesClaims, metadataWith, sign, signingKey, TestIssuer, type SigningKey } from './fixtures.js';

const clock = new FakeClock();
const nowSeconds = () => Math.floor(clock.now() / 1000);
let issuer: TestIssuer;
let key: SigningKey;
let rsaKey: SigningKey;

beforeAll(async () => {
  issuer = await new TestIssuer().start();
  key = await signingKey('k1', 'ES256');
  rsaKey = await signingKey('r1', 'RS256');
});
afterAll(() => issuer.stop());
beforeEach(() => {
  issuer.keys = [key.publicJwk, rsaKey.publicJwk];
  issuer.mode = 'ok';
  issuer.jwksRequests = 0;
});

function authenticator(overrides: Record<string, unknown> = {}, logger = capturingLogger().logger) {
  const config = jwtConfigSchema.parse({
    issuers: [{ issuer: issuer.url, audiences: ['workload-ca'], keys: { jwksUri: issuer.jwksUri }, fetchTimeout: '300ms', ...overrides }],
  });
  return new JwtAuthenticator({ config, clock, logger });
}

const context = (authorization?: string): CallerContext => ({
  transport: 'tcp',
  peerAddress: '127.0.0.1:1',
  metadata: metadataWith(authorization),
});

const claims = (extra: Record<string, unknown> = {}) => ({ ...kubernetesClaims('shop', 'cart', nowSeconds()), iss: issuer.url, ...extra });

async function rejection(auth: JwtAuthenticator, token: string): Promise<{ message: string; reason: unknown }> {
  const err = await auth.authenticate(context(`Bearer ${token}`)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isWcaError(err, 'ERR_UNAUTHENTICATED')) throw new Error(`expected ERR_UNAUTHENTICATED, got ${String(err)}`);
  expect(err.grpcStatus).toBe(16);
  expect(err.message).not.toContain(token);
  return { message: err.message, reason: err.details.reason };
}

describe('JwtAuthenticator', () => {
  it('accepts a Kubernetes projected service account token and maps its claims', async () => {
    const caller = await authenticator().authenticate(context(`Bearer ${await sign(key, claims())}`));
    expect(caller).toMatchObject({
      authenticator: 'jwt',
      subject: 'system:serviceaccount:shop:cart',
      claims: { namespace: 'shop', serviceAccount: 'cart', podName: 'cart-7d9f8b-x2x7q', issuer: issuer.url, audience: ['workload-ca'] },
    });
    expect(caller?.boundSpiffeId).toBeUndefined();
  });

  it.each([
    ['no authorization metadata', undefined],
    ['a join token (another authenticator’s credential)', 'Bearer wcajt_abc'],
  ])('returns null for %s', async (_name, authorization) => {
    expect(await authenticator().authenticate(context(authorization))).toBeNull();
  });

  it('accepts RS256 and EdDSA when allowed, and tokens expired within the skew', async () => {
    const ed = await signingKey('e1', 'EdDSA');
    issuer.keys.push(ed.publicJwk);
    const auth = authenticator({ algorithms: ['ES256', 'RS256', 'EdDSA'] });
    for (const k of [rsaKey, ed]) expect(await auth.authenticate(context(`Bearer ${await sign(k, claims())}`))).not.toBeNull();
    const barelyExpired = await sign(key, claims({ exp: nowSeconds() - 20 }));
    expect(await auth.authenticate(context(`Bearer ${barelyExpired}`))).not.toBeNull();
  });

  const forgedCases: [string, () => Promise<string>, RegExp, unknown][] = [
    ['forged signature (other key, same kid)', async () => sign({ ...(await signingKey('k1')), kid: 'k1' }, claims()), /signature verification failed/, 'signature'],
    [
      'tampered payload',
      async () => {
        const [h, , s] = (await sign(key, claims())).split('.');
        return [h, base64url.encode(JSON.stringify(claims({ sub: 'system:serviceaccount:kube-system:admin' }))), s].join('.');
      },
      /signature verification failed/,
      'signature',
    ],
    ['expired', () => sign(key, claims({ exp: nowSeconds() - 120 })), /"exp" claim timestamp check failed/, 'expired'],
    ['not yet valid', () => sign(key, claims({ nbf: nowSeconds() + 120 })), /"nbf" claim timestamp check failed/, 'claim-invalid'],
    ['without exp', () => sign(key, claims({ exp: undefined })), /missing required "exp" claim/, 'claim-invalid'],
    ['wrong issuer', () => sign(key, claims({ iss: 'https://evil.example' })), /issuer "https:\/\/evil.example" is not a configured issuer/, 'unknown-issuer'],
    ['wrong audience', () => sign(key, claims({ aud: 'vault' })), /unexpected "aud" claim value/, 'claim-invalid'],
    ['unknown kid', () => sign({ ...key, kid: 'nope' }, claims()), /no key of the issuer matches the token/, 'no-matching-key'],
    [
      'alg none',
      async () => `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims()))}.`,
      /alg/i,
      'alg-not-allowed',
    ],
    [
      'HS256 with the issuer public key as the HMAC secret',
      async () => {
        const pem = await exportSPKI((await importJWK(rsaKey.publicJwk, 'RS256')) as CryptoKey);
        return new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'r1' }).sign(new TextEncoder().encode(pem));
      },
      /"alg" \(Algorithm\) Header Parameter value not allowed/,
      'alg-not-allowed',
    ],
    ['not a JWT at all', async () => 'definitely-not-a-jwt', /not a well-formed JWT/, 'malformed'],
  ];

  it.each(forgedCases)('rejects a token that is %s', async (_name, make, message, reason) => {
    const { logger, text } = capturingLogger();
    const token = await make();
    const result = await rejection(authenticator({}, logger), token);
    expect(result.message).toMatch(message);
    expect(result.reason).toBe(reason);
    expect(text()).not.toContain(token);
  });

  it('rejects a 1 MB token before parsing it or fetching keys', async () => {
    const token = `eyJ${'a'.repeat(1024 * 1024)}`;
    const result = await rejection(authenticator(), token);
    expect(result).toEqual({ message: expect.stringMatching(/larger than 16384 bytes/), reason: 'too-large' });
    expect(issuer.jwksRequests).toBe(0);
  });

  it('refetches keys on an unknown kid at most once per cooldown, and picks up a rotated key', async () => {
    const auth = authenticator({ refreshCooldown: '30s' });
    expect(await auth.authenticate(context(`Bearer ${await sign(key, claims())}`))).not.toBeNull();
    expect(issuer.jwksRequests).toBe(1);
    for (let i = 0; i < 20; i++) await rejection(auth, await sign({ ...key, kid: `made-up-${i}` }, claims()));
    expect(issuer.jwksRequests).toBe(1); // the first fetch is within the cooldown: the flood costs nothing

    const rotated = await signingKey('k2');
    issuer.keys = [rotated.publicJwk];
    clock.advance(31_000);
    expect(await auth.authenticate(context(`Bearer ${await sign(rotated, claims())}`))).not.toBeNull();
    expect(issuer.jwksRequests).toBe(2);
    await rejection(auth, await sign({ ...key, kid: 'made-up-again' }, claims()));
    expect(issuer.jwksRequests).toBe(2);
  });

  it.each([
    ['hangs', 'hang', /no answer within 300 ms/],
    ['returns garbage', 'garbage', /response is not JSON/],
    ['returns JSON that is not a key set', 'not-jwks', /not a JSON Web Key Set/],
  ] as const)('denies with a clear message when the JWKS endpoint %s', async (_name, mode, message) => {
    issuer.mode = mode;
    const result = await rejection(authenticator(), await sign(key, claims()));
    expect(result.reason).toBe('keys-unavailable');
    expect(result.message).toMatch(message);
  });

  it('keeps the cached keys when a later refresh fails', async () => {
    const auth = authenticator({ cacheMaxAge: '60s' });
    expect(await auth.authenticate(context(`Bearer ${await sign(key, claims())}`))).not.toBeNull();
    issuer.mode = 'garbage';
    clock.advance(61_000);
    expect(await auth.authenticate(context(`Bearer ${await sign(key, claims())}`))).not.toBeNull();
    expect(issuer.jwksRequests).toBe(2);
  });

  it('re-checks expiry of a remembered token on every request', async () => {
    const auth = authenticator();
    const token = await sign(key, claims({ exp: nowSeconds() + 60 }));
    for (let i = 0; i < 3; i++) expect(await auth.authenticate(context(`Bearer ${token}`))).not.toBeNull();
    clock.advance(91_000); // past exp + 30 s skew
    expect((await rejection(auth, token)).reason).toBe('expired');
  });

  it('forgets remembered tokens when the key set changes: a removed key stops working', async () => {
    const auth = authenticator({ refreshCooldown: '30s' });
    const old = await sign(key, claims());
    expect(await auth.authenticate(context(`Bearer ${old}`))).not.toBeNull();
    expect(await auth.authenticate(context(`Bearer ${old}`))).not.toBeNull();
    const rotated = await signingKey('k2');
    issuer.keys = [rotated.publicJwk];
    clock.advance(31_000);
    expect(await auth.authenticate(context(`Bearer ${await sign(rotated, claims())}`))).not.toBeNull();
    expect((await rejection(auth, old)).reason).toBe('no-matching-key');
  });

  it('finds keys through OIDC discovery', async () => {
    const auth = authenticator({ keys: { discovery: true } });
    expect(await auth.authenticate(context(`Bearer ${await sign(key, claims())}`))).toMatchObject({ claims: { namespace: 'shop' } });
  });

  it('reads keys from a static JWKS file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wca-jwks-'));
    try {
      const file = path.join(dir, 'jwks.json');
      await writeFile(file, JSON.stringify({ keys: [key.publicJwk] }));
      const auth = authenticator({ keys: { jwksFile: file } });
      expect(await auth.authenticate(context(`Bearer ${await sign(key, claims())}`))).not.toBeNull();
      expect(issuer.jwksRequests).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['a non-Bearer scheme', 'Basic dXNlcjpwYXNz', 'not-bearer'],
    ['an empty bearer', 'Bearer ', 'not-bearer'],
  ])('rejects %s in authorization metadata', async (_name, authorization, reason) => {
    const err = await authenticator().authenticate(context(authorization)).catch((e: unknown) => e);
    expect(isWcaError(err, 'ERR_UNAUTHENTICATED') && err.details.reason).toBe(reason);
  });

  it('rejects a claim mapping that would let a token supply bound DNS names', () => {
    const result = jwtConfigSchema.safeParse({
      issuers: [{ issuer: 'https://i', audiences: ['a'], keys: { discovery: true }, claims: { dnsNames: 'hosts' } }],
    });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toMatch(/reserved/);
  });

  it('rejects configuration that would allow HMAC or none', () => {
    for (const alg of ['HS256', 'none']) {
      expect(() =>
        jwtConfigSchema.parse({ issuers: [{ issuer: 'https://i', audiences: ['a'], keys: { discovery: true }, algorithms: [alg] }] }),
      ).toThrow();
    }
  });
});

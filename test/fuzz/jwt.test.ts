/**
 * Fuzzing the JWT authenticator (src/identity/jwt/) and the policy behind it:
 * hostile authorization metadata, forged tokens of any shape, and tokens really
 * signed by a trusted key whose claims have hostile types and values. A token is
 * accepted or refused with ERR_UNAUTHENTICATED; what an accepted token yields
 * is granted or refused with a documented policy error; nothing crashes.
 */
import { CompactSign, base64url } from 'jose';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { JwtAuthenticator } from '../../src/identity/jwt/authenticator.js';
import { jwtConfigSchema } from '../../src/identity/jwt/config.js';
import { rulePolicyWithBuiltins } from '../../src/identity/policy/builtin.js';
import { ruleSchema } from '../../src/identity/policy/config.js';
import type { CallerContext } from '../../src/identity/types.js';
import { parseSpiffeIdIn } from '../../src/spiffe/id.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { signingKey, type SigningKey } from '../identity/jwt/fixtures.js';
import { fuzzOptions, settles } from './fuzz.js';

const ISSUER = 'https://issuer.fuzz.example';
const trustDomain = 'cluster.local';
const clock = new FakeClock();
const now = Math.floor(clock.now() / 1000);
let keys: SigningKey[];
let auth: JwtAuthenticator;

const policy = rulePolicyWithBuiltins(
  trustDomain,
  [
    ruleSchema.parse({ name: 'pods', match: { authenticator: 'jwt', namespace: 'pods-*' }, spiffeId: 'spiffe://{{trustDomain}}/ns/{{namespace}}/pod/{{podName}}' }),
    ruleSchema.parse({ name: 'k8s', match: { authenticator: 'jwt', audience: 'workload-ca' }, dnsNames: ['{{serviceAccount}}.{{namespace}}.svc'] }),
  ],
  3600,
);

beforeAll(async () => {
  keys = [await signingKey('es', 'ES256'), await signingKey('rs', 'RS256'), await signingKey('ed', 'EdDSA')];
  const config = jwtConfigSchema.parse({
    issuers: [{ issuer: ISSUER, audiences: ['workload-ca'], keys: { jwksUri: `${ISSUER}/keys` }, algorithms: ['ES256', 'RS256'] }],
  });
  // The trusted keys are served from memory: this fuzzes verification, not HTTP.
  auth = new JwtAuthenticator({ config, clock, logger: silentLogger(), loaderFor: () => async () => ({ keys: keys.map((k) => k.publicJwk) }) });
});

const context = (values: string[]): CallerContext => ({ transport: 'tcp', peerAddress: '127.0.0.1:1', metadata: new Map([['authorization', values]]) });

/** How far tokens got, so a run that never reaches the policy fails instead of passing vacuously. */
const reached = { authenticated: 0, granted: 0 };

/** Authenticates, and when a caller results, asks the policy: every outcome must be documented. */
async function judge(values: string[]): Promise<void> {
  const caller = await settles(() => auth.authenticate(context(values)), ['ERR_UNAUTHENTICATED']);
  if (!caller) return;
  reached.authenticated++;
  const grant = await settles(() => policy.decide(caller), ['ERR_PERMISSION_DENIED', 'ERR_SPIFFE_ID_RESERVED']);
  if (!grant) return;
  reached.granted++;
  expect(parseSpiffeIdIn(grant.spiffeId, trustDomain).path).not.toBe('');
}

/** JSON values with the odd types claims should never have. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1e308, '', 'pods-x', 'shop', 'workload-ca', '../..', 'a/b', '{{bound}}', '__proto__'),
  fc.string({ maxLength: 30 }),
  fc.double({ noNaN: true }),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

const claims = fc.record(
  {
    iss: fc.oneof({ arbitrary: fc.constant(ISSUER), weight: 8 }, { arbitrary: oddValue, weight: 1 }),
    aud: fc.oneof({ arbitrary: fc.constantFrom('workload-ca', ['workload-ca', 'x']), weight: 6 }, { arbitrary: oddValue, weight: 1 }),
    exp: fc.oneof({ arbitrary: fc.integer({ min: now - 100, max: now + 7200 }), weight: 6 }, { arbitrary: oddValue, weight: 1 }),
    nbf: fc.oneof({ arbitrary: fc.integer({ min: now - 100, max: now + 100 }), weight: 6 }, { arbitrary: oddValue, weight: 1 }),
    iat: fc.oneof({ arbitrary: fc.integer({ min: now - 100, max: now + 100 }), weight: 6 }, { arbitrary: oddValue, weight: 1 }),
    sub: oddValue,
    'kubernetes.io': fc.oneof(
      {
        arbitrary: fc.record(
          {
            namespace: fc.oneof({ arbitrary: fc.constantFrom('shop', 'pods-eu', 'kube-system'), weight: 4 }, fc.constantFrom('a b', 'x/y', ''), oddValue),
            serviceaccount: fc.record({ name: fc.oneof({ arbitrary: fc.constantFrom('cart', 'sds', 'a.b'), weight: 4 }, oddValue) }, { requiredKeys: ['name'] }),
            pod: fc.oneof({ arbitrary: fc.record({ name: fc.oneof({ arbitrary: fc.constantFrom('p-1', 'P'), weight: 4 }, oddValue) }), weight: 4 }, oddValue),
          },
          { requiredKeys: ['namespace', 'serviceaccount'] },
        ),
        weight: 6,
      },
      { arbitrary: oddValue, weight: 1 },
    ),
  },
  { requiredKeys: [] },
);

const b64json = (value: unknown) => base64url.encode(JSON.stringify(value) ?? 'null');

describe('fuzz: JWT authenticator and policy', () => {
  it('arbitrary authorization metadata', async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ maxLength: 200 }).map((s) => `Bearer ${s}`),
      fc.stringMatching(/^[A-Za-z0-9._~+/=-]{0,300}$/).map((s) => `Bearer ${s}`),
      fc.constantFrom('Bearer', 'bearer eyJ', `Bearer ${'a'.repeat(17_000)}`),
    );
    await fc.assert(fc.asyncProperty(fc.array(value, { maxLength: 2 }), judge), fuzzOptions(800));
  });

  it('forged tokens: any header, any payload, any signature', async () => {
    const header = fc.oneof(
      fc.record({ alg: fc.constantFrom('ES256', 'RS256', 'none', 'HS256', 'EdDSA', 'ES512'), kid: fc.constantFrom('es', 'rs', 'ed', 'nope'), crit: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }), b64: fc.boolean(), jku: fc.webUrl() }, { requiredKeys: ['alg'] }),
      fc.jsonValue(),
    );
    const token = fc.tuple(header, fc.oneof(claims, fc.jsonValue()), fc.uint8Array({ maxLength: 300 })).map(([h, p, s]) => `${b64json(h)}.${b64json(p)}.${base64url.encode(s)}`);
    await fc.assert(fc.asyncProperty(token, (t) => judge([`Bearer ${t}`])), fuzzOptions(800));
  });

  it('tokens really signed by a trusted key, with hostile claims', async () => {
    const signed = fc.record({ key: fc.integer({ min: 0, max: 2 }), payload: fc.oneof({ arbitrary: claims, weight: 8 }, { arbitrary: fc.jsonValue(), weight: 1 }), typ: fc.constantFrom(undefined, 'JWT', 'at+jwt', 'x') });
    await fc.assert(
      fc.asyncProperty(signed, async ({ key, payload, typ }) => {
        const k = keys[key]!;
        const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload) ?? 'null'))
          .setProtectedHeader({ alg: k.alg, kid: k.kid, ...(typ ? { typ } : {}) })
          .sign(k.privateKey);
        await judge([`Bearer ${jws}`]);
      }),
      fuzzOptions(600),
    );
    expect(reached.authenticated).toBeGreaterThan(30);
    expect(reached.granted).toBeGreaterThan(5);
  });
});

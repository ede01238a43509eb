/**
 * Fuzzing configuration loading (src/config/load.ts, the zod schema of every
 * section, and the built-in plugins' config validation): arbitrary text,
 * YAML documents shaped like our config with hostile values, and hostile
 * environment overrides. A config loads (frozen) or fails with a documented
 * config error; nothing crashes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigFlags } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { ErrorCode } from '../../src/errors.js';
import { JwtAuthenticator } from '../../src/identity/jwt/authenticator.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { checkUpstreamConfig } from '../../src/upstream/loader.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { fuzzOptions, settles } from './fuzz.js';

/** A bad flag value is a usage error that names the flag (exit 2), not a config error. */
const CONFIG_ERRORS: readonly ErrorCode[] = ['ERR_CONFIG_INVALID', 'ERR_CONFIG_FILE', 'ERR_USAGE'];
const builtinPlugins = ['self-signed', 'disk', 'pkcs11', 'vault', 'aws-acm-pca'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'wca-fuzz-config-'));
const file = path.join(dir, 'config.yaml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Values that sit near what each key accepts, plus the wrong types. */
const scalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('1h', '30s', '0', '-5s', '7d', '1e400', 'forever', '99999999999999999999d', 'unix:/tmp/wca-fuzz.sock', 'unix:relative', '127.0.0.1:0', '0.0.0.0:8234', '[::1]:70000', 'localhost'),
  fc.constantFrom('spiffe://cluster.local/ns/a/sa/b', 'spiffe://other.example/x', 'spiffe://cluster.local', 'cluster.local', 'CLUSTER.LOCAL', 'a..b', ''),
  fc.constantFrom('dev', 'production', 'mtls', 'tls', 'plaintext', 'ec-p256', 'rsa-1024', 'info', 'silent', 'insecure-dev', 'jwt', 'unix', '0600', '0777'),
  fc.constantFrom('{{namespace}}', '{{bound}}', 'spiffe://{{trustDomain}}/{{x}}', '*', '**', '[', 'https://127.0.0.1:1/keys', 'http://example.com'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 30 }),
);

const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('name', 'match', 'spiffeId', 'dnsNames', 'maxTtl', 'issuer', 'audiences', 'keys', 'jwksUri', 'authenticator', 'namespace', 'x'), tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** A partial object over `keys` whose values are drawn from `values`. */
const section = (keys: string[], values: fc.Arbitrary<unknown> = value) => fc.dictionary(fc.constantFrom(...keys), values, { maxKeys: keys.length });

/** Mostly well-formed issuers, so the fuzz gets past the schema to building the authenticator. */
const jwtIssuer = fc.record(
  {
    issuer: fc.oneof(fc.constantFrom('https://issuer.example', 'issuer', 'http://10.0.0.1', 'https://[::1', ''), scalar),
    audiences: fc.oneof(fc.constant(['workload-ca']), value),
    keys: fc.oneof(fc.constantFrom({ discovery: true }, { jwksUri: 'https://issuer.example/keys' }, { jwksUri: 'http:// x' }, { jwksUri: '' }, { jwksFile: '/nonexistent/jwks.json' }), value),
    algorithms: fc.oneof(fc.constant(['ES256']), value),
    clockSkew: scalar,
    claims: fc.oneof(fc.constant({ namespace: 'kubernetes.io/namespace' }), value),
  },
  { requiredKeys: [] },
);

const configDocument = fc.record(
  {
    profile: fc.oneof(fc.constantFrom('dev', 'production'), scalar),
    trustDomain: fc.oneof(fc.constant('cluster.local'), scalar),
    listen: section(['sds', 'http', 'admin', 'metrics']),
    ca: section(['keyType', 'intermediateTtl', 'leafTtl', 'leafMaxTtl', 'backdate', 'signers']),
    upstream: fc.record(
      { plugin: fc.oneof(fc.constantFrom(...builtinPlugins), scalar), config: section(['certFile', 'keyFile', 'address', 'mount', 'auth', 'region', 'caArn', 'module', 'pinEnv']), rootPollInterval: scalar },
      { requiredKeys: [] },
    ),
    sds: section(['transport', 'certificateName', 'bundleName', 'spiffeValidator', 'authenticators', 'fetchTimeout', 'idleTimeout', 'issueConcurrency']),
    identity: fc.record(
      {
        unix: section(['spiffeId', 'socketMode']),
        jwt: fc.record({ issuers: fc.array(jwtIssuer, { maxLength: 2 }) }, { requiredKeys: [] }),
        joinToken: section(['maxTtl', 'reuseWindow']),
        policy: fc.record({ rules: fc.array(section(['name', 'match', 'spiffeId', 'dnsNames', 'boundDnsNames', 'maxTtl']), { maxLength: 3 }) }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
    log: section(['level']),
    unknownKey: scalar,
  },
  { requiredKeys: [] },
);

const envOverrides = fc.record(
  {
    WCA_PROFILE: fc.oneof(fc.constantFrom('dev', 'production', ''), fc.string({ maxLength: 10 })),
    WCA_TRUST_DOMAIN: fc.oneof(fc.constantFrom('td.example', 'BAD TD', ''), fc.string({ maxLength: 10 })),
    WCA_SDS_LISTEN: fc.oneof(fc.constantFrom('127.0.0.1:0', 'unix:/tmp/x.sock', '0.0.0.0:1', ''), fc.string({ maxLength: 10 })),
    WCA_ADMIN_LISTEN: fc.oneof(fc.constantFrom('unix:/tmp/a.sock', '127.0.0.1:1'), fc.string({ maxLength: 10 })),
    WCA_LOG_LEVEL: fc.string({ maxLength: 8 }),
    WCA_UPSTREAM_PLUGIN: fc.oneof(fc.constantFrom(...builtinPlugins), fc.string({ maxLength: 8 })),
  },
  { requiredKeys: [] },
);

/** Loads `text` as the config file; a loaded config is frozen, and its upstream section is checked by its plugin. */
async function load(text: string, env: Record<string, string> = {}, flags: ConfigFlags = {}): Promise<void> {
  writeFileSync(file, text);
  const config = await settles<Config>(() => loadConfig({ file, env, flags }), CONFIG_ERRORS);
  if (!config) return;
  expect(Object.isFrozen(config)).toBe(true);
  // A validated jwt section must build its authenticator (key sources are only read later).
  if (config.identity.jwt) new JwtAuthenticator({ config: config.identity.jwt, clock: new FakeClock(), logger: silentLogger() });
  if (builtinPlugins.includes(config.upstream.plugin)) {
    const problems = await checkUpstreamConfig({ plugin: config.upstream.plugin, config: config.upstream.config });
    for (const p of problems) expect(typeof p.path === 'string' && typeof p.message === 'string').toBe(true);
  }
}

describe('fuzz: configuration loading', () => {
  it('arbitrary text as the config file', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.constantFrom('---\n', '[]', '- a\n- b', '!!binary AAAA', 'a: &x [*x]', 'a: !!js/function "x"', '{', 'profile: [', '\t', 'x: 1\nx: 2\n'),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
    );
    await fc.assert(fc.asyncProperty(text, (t) => load(t)), fuzzOptions(500));
  });

  it('config-shaped YAML with hostile values, environment overrides and flags', async () => {
    await fc.assert(
      fc.asyncProperty(configDocument, envOverrides, fc.record({ trustDomain: fc.string({ maxLength: 10 }), sdsListen: fc.string({ maxLength: 12 }) }, { requiredKeys: [] }), (doc, env, flags) =>
        load(stringify(doc), env as Record<string, string>, flags),
      ),
      fuzzOptions(400),
    );
  });
});

import { createPublicKey, verify, webcrypto } from 'node:crypto';
import { base64url } from 'jose';
import type { CallerContext } from '../src/identity/types.js';
import { benchJwtIssuer } from './jwt-fixture.js';

/**
 * What JWT authentication costs per SDS request with a cached JWKS: the whole
 * JwtAuthenticator (size cap, decode, jose verify, claims mapping), against a
 * bare node:crypto verify of the same ES256 signature in the same run. Two cases:
 * a token seen for the first time (full signature check) and the same token
 * again (an Envoy reconnecting: served from the verified-token cache).
 */

export interface LatencyUs {
  medianUs: number;
  p99Us: number;
}

export interface AuthJwtBenchResult {
  iterations: number;
  /** Every request carries a token never seen before. */
  freshToken: LatencyUs;
  /** Every request carries the same, already verified token. */
  repeatedToken: LatencyUs;
  baselineVerify: LatencyUs;
  /** The same check through WebCrypto (what jose uses): an async hop to the libuv pool. */
  webCryptoVerify: LatencyUs;
  /** freshToken median minus baseline median: our overhead on top of the signature check. */
  overheadMedianUs: number;
}

const warmupOf = (iterations: number) => Math.min(500, iterations);

const contextFor = (token: string): CallerContext => ({
  transport: 'tls',
  peerAddress: '10.0.0.1:1',
  metadata: new Map([['authorization', [`Bearer ${token}`]]]),
});

/** Median and p99 µs of `op`, called one at a time after a warm-up; also used by bench/renewal.ts. */
export async function measure(iterations: number, op: () => unknown): Promise<LatencyUs> {
  const samples = new Float64Array(iterations);
  for (let i = 0; i < warmupOf(iterations); i++) await op(); // warm up JIT and caches
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await op();
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  samples.sort();
  return { medianUs: samples[Math.floor(iterations / 2)]!, p99Us: samples[Math.floor(iterations * 0.99)]! };
}

export async function runAuthJwtBench(iterations = 5000): Promise<AuthJwtBenchResult> {
  const { jwk, mint, authenticator: makeAuthenticator } = await benchJwtIssuer();
  const token = await mint(0);
  const fresh: CallerContext[] = [];
  for (let i = 1; i <= iterations + warmupOf(iterations); i++) fresh.push(contextFor(await mint(i)));

  const authenticator = makeAuthenticator();
  const context = contextFor(token);
  const caller = await authenticator.authenticate(context);
  if (caller?.claims.serviceAccount !== 'cart') throw new Error('bench token did not authenticate');

  const [header, payload, signature] = token.split('.') as [string, string, string];
  const signingInput = Buffer.from(`${header}.${payload}`);
  const signatureBytes = base64url.decode(signature);
  const keyObject = createPublicKey({ key: jwk, format: 'jwk' });
  const baseline = () => {
    if (!verify('sha256', signingInput, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signatureBytes)) throw new Error('baseline verify failed');
  };

  const cryptoKey = await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  const viaWebCrypto = async () => {
    if (!(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, cryptoKey, signatureBytes, signingInput))) {
      throw new Error('WebCrypto verify failed');
    }
  };

  const baselineVerify = await measure(iterations, baseline);
  const webCryptoVerify = await measure(iterations, viaWebCrypto);
  let next = 0;
  const freshToken = await measure(iterations, () => authenticator.authenticate(fresh[next++]!));
  const repeatedToken = await measure(iterations, () => authenticator.authenticate(context));
  return { iterations, freshToken, repeatedToken, baselineVerify, webCryptoVerify, overheadMedianUs: freshToken.medianUs - baselineVerify.medianUs };
}

export function printAuthJwtBench(r: AuthJwtBenchResult): void {
  const fmt = (l: LatencyUs) => `median ${l.medianUs.toFixed(1)} µs, p99 ${l.p99Us.toFixed(1)} µs`;
  console.log(`auth-jwt (ES256, cached JWKS, ${r.iterations} requests):`);
  console.log(`  new token (full verification)   ${fmt(r.freshToken)}  (target: median < 200 µs)`);
  console.log(`  same token again (reconnect)    ${fmt(r.repeatedToken)}`);
  console.log(`  bare crypto.verify baseline     ${fmt(r.baselineVerify)}`);
  console.log(`  bare WebCrypto verify           ${fmt(r.webCryptoVerify)}`);
  console.log(`  overhead over the signature check: ${r.overheadMedianUs.toFixed(1)} µs at the median`);
}

/**
 * Shared settings of the fuzz suite: seeded (WCA_FUZZ_SEED replays a run; a
 * failure prints the seed and the shrunk counterexample), a fixed number of runs,
 * and one definition of "a documented error".
 */
import fc from 'fast-check';
import { errorCodes, WcaError, type ErrorCode } from '../../src/errors.js';

export const fuzzSeed = Number(process.env.WCA_FUZZ_SEED ?? 20261130);

export function fuzzOptions<Ts extends unknown[]>(numRuns: number): fc.Parameters<Ts> {
  return { seed: fuzzSeed, numRuns };
}

/**
 * Fails unless `err` is a WcaError whose code is in src/errors.ts and among
 * `allowed`: a TypeError, RangeError or foreign error escaping is a crash.
 */
export function expectDocumented(err: unknown, allowed: readonly ErrorCode[]): void {
  if (!(err instanceof WcaError)) {
    const e = err as Error | undefined;
    throw new Error(`undocumented failure: ${e?.name ?? typeof err}: ${e?.message ?? String(err)}\n${e?.stack ?? ''}`);
  }
  if (!(err.code in errorCodes)) throw new Error(`error code ${err.code} is not in src/errors.ts`);
  if (!allowed.includes(err.code)) throw new Error(`unexpected error code ${err.code} (${err.message}); expected one of ${allowed.join(', ')}`);
}

/** Runs `f`, then checks any failure with expectDocumented. */
export async function settles<T>(f: () => T | Promise<T>, allowed: readonly ErrorCode[]): Promise<T | undefined> {
  try {
    return await f();
  } catch (err) {
    expectDocumented(err, allowed);
    return undefined;
  }
}

/** Byte-level mutations of a valid input: flips, overwrites, cuts, insertions, deletions. */
export const mutation = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

export function mutate(input: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let buf = Buffer.from(input);
  for (const m of mutations) {
    if (buf.length === 0) break;
    const at = m.at % buf.length;
    switch (m.op) {
      case 'flip':
        buf[at]! ^= 1 << m.bit;
        break;
      case 'set':
        buf[at] = m.value;
        break;
      case 'truncate':
        buf = buf.subarray(0, at);
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.count)]);
        break;
    }
  }
  return buf;
}

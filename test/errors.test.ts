import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { errorCodes, errorReasons, reasonOf, WcaError, grpcStatusOf, exitCodeOf, publicMessageOf, GrpcStatus, ExitCode } from '../src/errors.js';

const docs = fs.readFileSync(path.resolve(import.meta.dirname, '../docs/errors.md'), 'utf8');

describe('error registry', () => {
  it.each(Object.keys(errorCodes))('%s is documented in docs/errors.md', (code) => {
    expect(docs).toMatch(new RegExp(`^- \`${code}\` — .{10,}`, 'm'));
  });

  it('documents no code that does not exist', () => {
    const documented = [...docs.matchAll(/^- `(ERR_[A-Z0-9_]+)`/gm)].map((m) => m[1]!);
    expect(documented.filter((c) => !(c in errorCodes))).toEqual([]);
  });

  const reasons = Object.entries(errorReasons).flatMap(([code, list]) => list.map((reason) => [code, reason] as const));
  it.each(reasons)('%s reason %s is documented on its code\'s line', (code, reason) => {
    const line = docs.split('\n').find((l) => l.startsWith(`- \`${code}\``));
    expect(line).toContain(`\`${reason}\``);
  });

  it('types reasons by code: another code\'s reason does not compile (npm test type-checks this file)', () => {
    // @ts-expect-error 'used' is a join-token reason of ERR_UNAUTHENTICATED, not one of ERR_CSR_INVALID's
    const wrong = new WcaError('ERR_CSR_INVALID', 'x', { details: { reason: 'used' } });
    // @ts-expect-error ERR_TTL_INVALID has no reasons at all
    const none = new WcaError('ERR_TTL_INVALID', 'x', { details: { reason: 'too-long' } });
    const right = new WcaError('ERR_UNAUTHENTICATED', 'x', { details: { reason: 'used' } });
    expect([wrong, none, right].map((e) => e.details.reason)).toEqual(['used', 'too-long', 'used']);
  });

  it('takes a reason back from the wire only when it is one of its code\'s', () => {
    expect(reasonOf('ERR_KEY_TYPE_UNSUPPORTED', 'rsa-exponent')).toBe('rsa-exponent');
    expect(reasonOf('ERR_CSR_INVALID', 'rsa-exponent')).toBeUndefined();
    expect(reasonOf('ERR_CSR_INVALID', 'used')).toBeUndefined();
    expect(reasonOf('ERR_TTL_INVALID', 'anything')).toBeUndefined();
    expect(reasonOf('ERR_UNAUTHENTICATED', 42)).toBeUndefined();
  });

  it('maps codes to gRPC status and exit code in one place, and hides foreign errors', () => {
    const e = new WcaError('ERR_TTL_INVALID', 'bad ttl', { details: { field: 'ttl' } });
    expect([e.grpcStatus, e.exitCode, grpcStatusOf(e), exitCodeOf(e)]).toEqual([GrpcStatus.INVALID_ARGUMENT, ExitCode.USAGE, 3, 2]);
    expect(Object.isFrozen(e.details)).toBe(true);
    const foreign = new Error('ENOENT /secret/path');
    expect([grpcStatusOf(foreign), exitCodeOf(foreign), publicMessageOf(foreign)]).toEqual([GrpcStatus.INTERNAL, ExitCode.FAILURE, 'internal error']);
  });
});

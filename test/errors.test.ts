import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { errorCodes, WcaError, grpcStatusOf, exitCodeOf, publicMessageOf, GrpcStatus, ExitCode } from '../src/errors.js';

const docs = fs.readFileSync(path.resolve(import.meta.dirname, '../docs/errors.md'), 'utf8');

describe('error registry', () => {
  it.each(Object.keys(errorCodes))('%s is documented in docs/errors.md', (code) => {
    expect(docs).toMatch(new RegExp(`^- \`${code}\` — .{10,}`, 'm'));
  });

  it('documents no code that does not exist', () => {
    const documented = [...docs.matchAll(/^- `(ERR_[A-Z0-9_]+)`/gm)].map((m) => m[1]!);
    expect(documented.filter((c) => !(c in errorCodes))).toEqual([]);
  });

  it('maps codes to gRPC status and exit code in one place, and hides foreign errors', () => {
    const e = new WcaError('ERR_TTL_INVALID', 'bad ttl', { details: { field: 'ttl' } });
    expect([e.grpcStatus, e.exitCode, grpcStatusOf(e), exitCodeOf(e)]).toEqual([GrpcStatus.INVALID_ARGUMENT, ExitCode.USAGE, 3, 2]);
    expect(Object.isFrozen(e.details)).toBe(true);
    const foreign = new Error('ENOENT /secret/path');
    expect([grpcStatusOf(foreign), exitCodeOf(foreign), publicMessageOf(foreign)]).toEqual([GrpcStatus.INTERNAL, ExitCode.FAILURE, 'internal error']);
  });
});

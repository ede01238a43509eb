import { describe, expect, it } from 'vitest';
import { withSigning } from '../../src/keys/readiness.js';

describe('readiness with a remote key signing problem', () => {
  it('ready becomes degraded with the reason; degraded keeps both reasons; not-ready and no problem stay as they are', () => {
    expect(withSigning({ state: 'ready' }, 'ERR_UPSTREAM_TIMEOUT: x')).toEqual({
      state: 'degraded',
      reason: 'signing with the intermediate key is failing: ERR_UPSTREAM_TIMEOUT: x',
    });
    expect(withSigning({ state: 'degraded', reason: 'rotation overdue' }, 'E: y')).toMatchObject({ reason: 'rotation overdue; signing with the intermediate key is failing: E: y' });
    expect(withSigning({ state: 'not-ready', reason: 'no active intermediate' }, 'E')).toEqual({ state: 'not-ready', reason: 'no active intermediate' });
    expect(withSigning({ state: 'ready' }, undefined)).toEqual({ state: 'ready' });
  });
});

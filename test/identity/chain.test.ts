import { describe, expect, it } from 'vitest';
import { WcaError, isWcaError } from '../../src/errors.js';
import { AuthenticatorChain } from '../../src/identity/chain.js';
import type { Authenticator, Caller, CallerContext } from '../../src/identity/types.js';

const context: CallerContext = { transport: 'tcp', peerAddress: '127.0.0.1:1', metadata: new Map() };
const caller = (name: string): Caller => ({ authenticator: name, subject: name, claims: {}, instance: name });

function auth(name: string, behaviour: 'absent' | 'ok' | 'invalid', calls: string[]): Authenticator {
  return {
    name,
    authenticate: async () => {
      calls.push(name);
      if (behaviour === 'invalid') throw new WcaError('ERR_UNAUTHENTICATED', `${name}: bad credential`);
      return behaviour === 'ok' ? caller(name) : null;
    },
  };
}

describe('AuthenticatorChain', () => {
  it.each([
    { chain: ['absent', 'ok', 'ok'], result: 'b', calls: ['a', 'b'] },
    { chain: ['ok', 'ok'], result: 'a', calls: ['a'] },
    { chain: ['invalid', 'ok'], result: 'ERR_UNAUTHENTICATED', calls: ['a'] }, // never falls through
    { chain: ['absent', 'invalid', 'ok'], result: 'ERR_UNAUTHENTICATED', calls: ['a', 'b'] },
    { chain: ['absent', 'absent'], result: 'ERR_UNAUTHENTICATED', calls: ['a', 'b'] }, // deny by default
  ] as const)('$chain → $result', async ({ chain, result, calls }) => {
    const seen: string[] = [];
    const names = ['a', 'b', 'c'];
    const subject = new AuthenticatorChain(chain.map((b, i) => auth(names[i]!, b, seen)));
    const outcome = await subject.authenticate(context).then(
      (c) => c.authenticator,
      (err: unknown) => (isWcaError(err) ? err.code : String(err)),
    );
    expect(outcome).toBe(result);
    expect(seen).toEqual(calls);
  });

  it('names what it tried when nothing recognised the caller', async () => {
    const chain = new AuthenticatorChain([auth('jwt', 'absent', []), auth('unix', 'absent', [])]);
    await expect(chain.authenticate(context)).rejects.toThrow(/tried: jwt, unix/);
  });

  it('refuses an empty chain', () => {
    expect(() => new AuthenticatorChain([])).toThrow(/at least one/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authority } from '../../src/ca/authority.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { systemClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { isWcaError } from '../../src/errors.js';
import { assembleIdentity } from '../../src/app/identity.js';
import { silentLogger } from '../../src/telemetry/logger.js';

let authority: Authority;
beforeAll(async () => {
  authority = await createDevAuthority({ trustDomain: 'cluster.local', signers: 1 });
});
afterAll(() => authority?.close());

const assemble = (sds: Record<string, unknown>) =>
  assembleIdentity(configSchema.parse({ profile: 'production', listen: { sds: '0.0.0.0:8234' }, sds }), { issuer: authority, clock: systemClock, logger: silentLogger() });

function configError(sds: Record<string, unknown>): string {
  try {
    assemble(sds);
  } catch (err) {
    if (isWcaError(err, 'ERR_CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected ERR_CONFIG_INVALID');
}

describe('assembleIdentity: a client certificate is checked before any token', () => {
  it('puts mtls before the token authenticators by default', () => {
    expect(assemble({ transport: 'mtls' }).authenticators.map((a) => a.name)).toEqual(['mtls', 'join-token']);
  });

  it.each([
    [{ transport: 'mtls', authenticators: ['join-token', 'mtls'] }, /mtls must come before join-token/],
    [{ transport: 'tls', authenticators: ['join-token', 'mtls'] }, /mtls must come before join-token/],
    [{ transport: 'mtls', authenticators: ['join-token'] }, /sds\.transport mtls asks clients for certificates, so mtls must be listed/],
  ])('refuses %j', (sds, message) => {
    expect(configError(sds)).toMatch(message);
  });

  it('accepts token-only authenticators on a tls listener, which asks for no certificate', () => {
    expect(assemble({ transport: 'tls', authenticators: ['join-token'] }).authenticators.map((a) => a.name)).toEqual(['join-token']);
  });
});

import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { UnixAuthenticator } from '../../src/identity/unix.js';

const unix = new UnixAuthenticator({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });

describe('UnixAuthenticator', () => {
  it('binds a Unix-socket caller to the configured SPIFFE ID', async () => {
    const caller = await unix.authenticate({ transport: 'unix', peerAddress: '/run/wca.sock', metadata: new Map() });
    expect(caller).toMatchObject({ authenticator: 'unix', boundSpiffeId: 'spiffe://cluster.local/ns/a/sa/b', subject: 'unix:/run/wca.sock' });
  });

  it.each(['tcp', 'tls'] as const)('does not recognise a %s caller', async (transport) => {
    expect(await unix.authenticate({ transport, peerAddress: '127.0.0.1:5', metadata: new Map() })).toBeNull();
  });

  it('rejects an invalid configured SPIFFE ID as a config error', () => {
    let caught: unknown;
    try {
      new UnixAuthenticator({ spiffeId: 'spiffe://cluster.local/a//b' });
    } catch (err) {
      caught = err;
    }
    expect(isWcaError(caught, 'ERR_CONFIG_INVALID')).toBe(true);
  });
});

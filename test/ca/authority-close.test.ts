import { describe, expect, it } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { WcaError } from '../../src/errors.js';

describe('Authority.close() drops the CA keys', () => {
  it('after close no CA key object is reachable: nothing signs, with ERR_CA_CLOSED or ERR_CA_NOT_READY', async () => {
    const ca = await createDevAuthority({ signers: 1 });
    await ca.issue({ spiffeId: 'spiffe://cluster.local/before' });
    await ca.close();
    // The only references to CA key objects are the Authority's slots and the signer threads.
    expect((ca as unknown as { cas: Map<string, unknown> }).cas.size).toBe(0);
    const err = await ca.issue({ spiffeId: 'spiffe://cluster.local/after' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WcaError);
    expect(['ERR_CA_CLOSED', 'ERR_CA_NOT_READY']).toContain((err as WcaError).code);
  });
});

import { describe, it, expect } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { AuthorityEvent } from '../../src/ca/types.js';
import { isWcaError } from '../../src/errors.js';

describe('Authority lifecycle through the state model', () => {
  it('prepare, activate, taint and revoke move leaves and the bundle as the states say', async () => {
    const ca = await createDevAuthority({ signers: 1 });
    const events: AuthorityEvent[] = [];
    ca.subscribe((e) => events.push(e));
    try {
      const first = ca.slotLifetimes().active!.id;
      const prepared = await ca.prepareNext(undefined, 'operator');
      // A second prepare is refused before it costs an upstream mint.
      await expect(ca.prepareNext()).rejects.toSatisfy((e) => isWcaError(e, 'ERR_AUTHORITY_TRANSITION'));
      expect(ca.authorities().map((a) => [a.id, a.state])).toEqual([
        [prepared.id, 'prepared'],
        [first, 'active'],
      ]);
      ca.activate(prepared.id, 'operator');
      expect((await ca.issue({ spiffeId: 'spiffe://cluster.local/a' })).caId).toBe(prepared.id);
      expect(events.filter((e) => e.type === 'reissue')).toEqual([{ type: 'reissue', caIds: [first], reason: 'operator' }]);

      expect(() => ca.taint(prepared.id, 'x')).toThrow(expect.objectContaining({ code: 'ERR_AUTHORITY_TRANSITION' }));
      ca.taint(first, 'key exposure');
      expect(events.at(-1)).toEqual({ type: 'reissue', caIds: [first], reason: 'tainted: key exposure' });
      expect(ca.intermediatesPem()).toHaveLength(2);

      ca.revoke(first, { reason: 'confirmed' });
      expect(ca.intermediatesPem()).toHaveLength(1);
      expect(ca.authorities().find((a) => a.id === first)!.state).toBe('revoked');
      // Issuing still works under the active authority.
      expect((await ca.issue({ spiffeId: 'spiffe://cluster.local/a' })).caId).toBe(prepared.id);
    } finally {
      await ca.close();
    }
  });

  it('has no gap: leaves requested just before an activation are signed, not failed', async () => {
    const ca = await createDevAuthority({ signers: 1 });
    try {
      const previous = ca.slotLifetimes().active!.id;
      const next = await ca.prepareNext();
      const pending = Array.from({ length: 300 }, (_, i) => ca.issue({ spiffeId: `spiffe://cluster.local/w${i}` }));
      ca.activate(next.id, 'test');
      const results = await Promise.allSettled(pending);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(new Set(results.map((r) => (r as PromiseFulfilledResult<{ caId: string }>).value.caId))).toEqual(new Set([previous]));
      // The previous authority's key left the signers once its jobs were done.
      ca.revoke(previous, { reason: 'test', force: true });
      expect((await ca.issue({ spiffeId: 'spiffe://cluster.local/after' })).caId).toBe(next.id);
    } finally {
      await ca.close();
    }
  });
});

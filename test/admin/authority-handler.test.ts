import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { revokeAuthority } from '../../src/admin/authority-handler.js';
import { AuditLog } from '../../src/audit/log.js';
import { systemClock } from '../../src/clock.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { pemBlocks } from '../../src/x509/der.js';

describe('RevokeAuthority --upstream', () => {
  it("revokes locally, then asks the upstream to revoke the intermediate's own serial", async () => {
    const ca = await createDevAuthority({ signers: 1 });
    try {
      const first = ca.slotLifetimes().active!.id;
      const firstCert = new X509Certificate(pemBlocks(ca.intermediatesPem()[0]!)[0]!);
      ca.activate((await ca.prepareNext()).id, 'test');
      ca.taint(first, 'test');
      const revoked: string[] = [];
      const deps = {
        authority: ca,
        convergence: new ConvergenceTracker({ clock: systemClock }),
        audit: new AuditLog({ clock: systemClock }),
        upstream: { name: 'recording', revoke: async (serial: string) => void revoked.push(serial) },
        clock: systemClock,
        logger: silentLogger(),
      };
      const status = await revokeAuthority(deps, { id: first, reason: 'test', force: false, upstream: true });
      expect(status.authorities.find((a) => a.id === first)!.state).toBe('revoked');
      expect(revoked).toEqual([firstCert.serialNumber]);
    } finally {
      await ca.close();
    }
  });
});

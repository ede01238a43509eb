import crypto from 'node:crypto';
import { describe, it, expect, beforeAll } from 'vitest';
import { SignerPool } from '../../src/ca/signer-pool.js';
import type { SigningCa, SignJob } from '../../src/ca/sign-leaf.js';
import { leafCaProfile } from '../../src/x509/ca-profile.js';
import { pemBlocks } from '../../src/x509/der.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { limits } from '../../src/limits.js';
import { createTestRootCa } from '../fakes/upstream-ca.js';
import { makeCsr } from '../fakes/csr.js';
import { splitPem } from '../helpers/pki.js';

let ca: SigningCa;
let caPem: string;
beforeAll(async () => {
  const root = await createTestRootCa();
  caPem = root.rootPem;
  const key = crypto.KeyObject.from(root.rootKeys.privateKey);
  const profile = leafCaProfile(pemBlocks(caPem)[0]!, key);
  ca = { id: 'test-ca', key, profile, hash: profile.hash, chainPemSuffix: caPem };
});

const now = Date.now();
const keyJob = (i: number): SignJob => ({ kind: 'key', keyType: 'ec-p256', spiffeId: `spiffe://td/w/${i}`, dnsNames: [], notBeforeMs: now, notAfterMs: now + 600_000, lineageStartMs: now, lineageId: Buffer.alloc(16, 7) });

describe('SignerPool', () => {
  it('signs a burst across its workers; every certificate verifies under the CA and is for its own job', async () => {
    const pool = new SignerPool({ size: 2, logger: silentLogger() });
    // Enough that, past the two full batches each worker holds, jobs wait in the pool and leave
    // when a worker reports back (the size is not the property: 2,000 took twice the CPU).
    const burst = 2 * 2 * limits.signBatchMax + 200;
    try {
      pool.addCa(ca);
      const results = await Promise.all(Array.from({ length: burst }, (_, i) => pool.sign(ca.id, keyJob(i))));
      const caCert = new crypto.X509Certificate(caPem);
      results.forEach((r, i) => {
        const leaf = new crypto.X509Certificate(splitPem(r.leafPem)[0]!);
        expect(leaf.verify(caCert.publicKey)).toBe(true);
        expect(leaf.subjectAltName).toBe(`URI:spiffe://td/w/${i}`);
        expect(leaf.checkPrivateKey(crypto.createPrivateKey(r.privateKeyPem!))).toBe(true);
      });
      expect(new Set(results.map((r) => r.serialHex)).size).toBe(burst);
    } finally {
      await pool.close();
    }
  });

  it('reports a bad job as its own typed error without failing the others in its batch', async () => {
    const pool = new SignerPool({ size: 1, logger: silentLogger() });
    try {
      pool.addCa(ca);
      const csrJob = (csr: Buffer): SignJob => ({ kind: 'csr', csrDer: csr, spiffeId: 'spiffe://td/csr', dnsNames: [], notBeforeMs: now, notAfterMs: now + 600_000, lineageStartMs: now, lineageId: Buffer.alloc(16, 7) });
      const settled = await Promise.allSettled([
        pool.sign(ca.id, keyJob(1)),
        pool.sign(ca.id, csrJob(makeCsr({ breakSignature: true }).der)),
        pool.sign('no-such-ca', keyJob(2)),
        pool.sign(ca.id, csrJob(makeCsr().der)),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CSR_SIGNATURE' });
      expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CA_NOT_READY' });
    } finally {
      await pool.close();
    }
  });

  it('stops signing with a removed CA', async () => {
    const pool = new SignerPool({ size: 1, logger: silentLogger() });
    try {
      pool.addCa(ca);
      await pool.sign(ca.id, keyJob(1));
      pool.removeCa(ca.id);
      await expect(pool.sign(ca.id, keyJob(2))).rejects.toMatchObject({ code: 'ERR_CA_NOT_READY' });
    } finally {
      await pool.close();
    }
  });

  it('rejects queued and new work with ERR_CA_CLOSED on close', async () => {
    const pool = new SignerPool({ size: 1, logger: silentLogger() });
    pool.addCa(ca);
    const pending = Array.from({ length: 300 }, (_, i) => pool.sign(ca.id, keyJob(i)).then(() => 'signed', (e: { code: string }) => e.code));
    await pool.close();
    const outcomes = await Promise.all(pending);
    expect(outcomes.every((o) => o === 'signed' || o === 'ERR_CA_CLOSED')).toBe(true);
    expect(outcomes).toContain('ERR_CA_CLOSED');
    await expect(pool.sign(ca.id, keyJob(0))).rejects.toMatchObject({ code: 'ERR_CA_CLOSED' });
  });

  it('refuses work past maxQueued with ERR_CA_OVERLOADED naming the limit, counts each refusal, and takes work again once it drains', async () => {
    let shed = 0;
    const pool = new SignerPool({ size: 1, logger: silentLogger(), maxQueued: 10, onShed: () => shed++ });
    try {
      pool.addCa(ca);
      const settled = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => pool.sign(ca.id, keyJob(i), i % 2 ? 'bulk' : 'interactive')));
      const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(10);
      expect(refused).toHaveLength(40);
      for (const r of refused) expect(r.reason).toMatchObject({ code: 'ERR_CA_OVERLOADED', details: { reason: 'queued-issuance', limit: 10 } });
      expect(String((refused[0]!.reason as Error).message)).toContain('ca.maxQueuedIssuance');
      expect(shed).toBe(40);
      await expect(pool.sign(ca.id, keyJob(99))).resolves.toMatchObject({ serialHex: expect.any(String) });
    } finally {
      await pool.close();
    }
  });

  it('signs an interactive job ahead of a backlog of bulk jobs queued before it', async () => {
    const pool = new SignerPool({ size: 1, logger: silentLogger() });
    try {
      pool.addCa(ca);
      let bulkDone = 0;
      const bulk = Array.from({ length: 2000 }, (_, i) => pool.sign(ca.id, keyJob(i), 'bulk').then(() => void bulkDone++));
      // Let the first bulk batches leave, as in a taint already under way.
      await new Promise((r) => setImmediate(r));
      let bulkDoneWhenSigned = -1;
      await pool.sign(ca.id, keyJob(5000), 'interactive').then(() => (bulkDoneWhenSigned = bulkDone));
      // FIFO would sign all 2,000 first; the lanes let at most a few small bulk batches pass.
      expect(bulkDoneWhenSigned).toBeGreaterThanOrEqual(0);
      expect(bulkDoneWhenSigned).toBeLessThan(500);
      await Promise.all(bulk);
      expect(bulkDone).toBe(2000);
    } finally {
      await pool.close();
    }
  });

  it('refuses a new interactive job while queued ones already wait longer than maxWaitMs (issuance-wait); bulk work still queues', async () => {
    const shed: string[] = [];
    const pool = new SignerPool({ size: 1, logger: silentLogger(), maxWaitMs: 20, onShed: (reason) => shed.push(reason) });
    try {
      pool.addCa(ca);
      // Keep adding interactive work until the queue is old enough to refuse some (how soon depends on the box).
      const backlog: Promise<unknown>[] = [];
      let refused: unknown;
      for (let round = 0; round < 100 && refused === undefined; round++) {
        for (let i = 0; i < 500; i++) backlog.push(pool.sign(ca.id, keyJob(i)).catch((err: unknown) => (refused ??= err)));
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(refused).toMatchObject({ code: 'ERR_CA_OVERLOADED', details: { reason: 'issuance-wait', limit: 20 } });
      expect(String((refused as Error).message)).toContain('ca.maxIssuanceWait');
      expect(shed.length).toBeGreaterThan(0);
      expect(new Set(shed)).toEqual(new Set(['issuance-wait']));
      const bulk = pool.sign(ca.id, keyJob(9001), 'bulk');
      await Promise.all(backlog);
      await expect(bulk).resolves.toMatchObject({ serialHex: expect.any(String) });
      // Drained: new work is admitted again.
      await expect(pool.sign(ca.id, keyJob(9002))).resolves.toMatchObject({ serialHex: expect.any(String) });
    } finally {
      await pool.close();
    }
  });
});

/**
 * Plugin-independent steps of every upstream plugin test: mint for a fresh CSR
 * through an UpstreamAuthority, then check the answer with the core's validator.
 */
import type { UpstreamAuthority } from '../../../src/upstream/types.js';
import { validateMintResult, type ValidatedMint } from '../../../src/upstream/validate.js';
import { createCaCsr } from '../../fakes/upstream-ca.js';

export const trustDomain = 'cluster.local';

/** A fresh CSR, minted through `authority`, then checked by the core's validator. */
export async function mintAndValidate(authority: UpstreamAuthority, ttlSeconds = 3600) {
  const csr = await createCaCsr(trustDomain);
  const now = new Date();
  const result = await authority.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain, ttlSeconds });
  const validate = (): ValidatedMint =>
    validateMintResult(result, {
      publicKeySpkiDer: csr.spkiDer,
      trustDomain,
      requestedNotAfter: new Date(now.getTime() + ttlSeconds * 1000),
      now,
    });
  return { csr, result, validate };
}

/** Resolves with the rejection of `promise` (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/**
 * Plugin-independent steps of every upstream plugin test: mint for a fresh CSR
 * through an UpstreamAuthority, then check the answer with the core's validator.
 */
import type { UpstreamAuthority } from '../../src/upstream/types.js';
import { validateMintResult, type ValidatedMint } from '../../src/upstream/validate.js';
import { createCaCsr } from './upstream-ca.js';

/** The trust domain mints are for unless a test names another. */
export const trustDomain = 'cluster.local';

export interface MintOptions {
  /** Requested lifetime; 3600 s by default. */
  ttlSeconds?: number;
  trustDomain?: string;
}

/**
 * A fresh CSR, minted through `authority`; `validate()` then checks the answer
 * with the core's validator (a function, so tests can expect it to throw).
 */
export async function mintAndValidate(authority: UpstreamAuthority, options: MintOptions = {}) {
  const { ttlSeconds = 3600, trustDomain: td = trustDomain } = options;
  const csr = await createCaCsr(td);
  const now = new Date();
  const result = await authority.mintIntermediate({ csrDer: csr.csrDer, csrPem: csr.csrPem, trustDomain: td, ttlSeconds });
  const validate = (): ValidatedMint =>
    validateMintResult(result, {
      publicKeySpkiDer: csr.spkiDer,
      trustDomain: td,
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

import crypto from 'node:crypto';
import { WcaError, isWcaError } from '../errors.js';
import type { CaKey } from '../keys/types.js';
import { overloaded, queueBound } from './overload.js';
import { finishLeaf, prepareLeaf, type LeafTemplateCa, type SignJob, type SignResult } from './sign-leaf.js';

/**
 * Signing leaves with a key that lives outside the process (Vault Transit, a
 * KMS): the leaf is prepared here (key, TBS), only its signature comes from the
 * key manager, and every signature is verified against the certified public key
 * before a certificate is assembled, so a confused or hostile backend can never
 * make us hand out a certificate that does not verify.
 */
export interface RemoteSigningCa extends LeafTemplateCa {
  remote: { key: CaKey; publicKey: crypto.KeyObject };
}

export async function verifiedSignature(
  key: CaKey,
  publicKey: crypto.KeyObject,
  hash: string,
  data: Buffer,
  signal?: AbortSignal,
): Promise<Buffer> {
  const signature = await key.sign(data, signal);
  let ok = false;
  try {
    ok = crypto.verify(hash, data, publicKey, signature);
  } catch {
    // Malformed DER is as wrong as a signature that does not verify.
  }
  if (!ok) {
    throw new WcaError('ERR_UPSTREAM_BAD_RESPONSE', `key ${key.id} returned a signature that does not verify with its public key`, {
      details: { keyId: key.id },
    });
  }
  return signature;
}

export class RemoteLeafSigner {
  private inFlight = 0;
  private closed = false;
  private readonly maxQueued: number;
  private readonly onShed: ((reason: 'queued-issuance') => void) | undefined;

  /** `maxQueued`: ca.maxQueuedIssuance, capped at limits.signQueueMax; `onShed` counts each refusal. */
  constructor(options: { maxQueued?: number; onShed?: (reason: 'queued-issuance') => void } = {}) {
    this.maxQueued = queueBound(options.maxQueued);
    this.onShed = options.onShed;
  }

  async sign(ca: RemoteSigningCa, job: SignJob): Promise<SignResult> {
    if (this.closed) throw new WcaError('ERR_CA_CLOSED', 'the CA is shutting down');
    if (this.inFlight >= this.maxQueued) {
      this.onShed?.('queued-issuance');
      throw overloaded(this.maxQueued);
    }
    this.inFlight++;
    try {
      const leaf = await prepareLeaf(ca, job);
      return finishLeaf(ca, leaf, await verifiedSignature(ca.remote.key, ca.remote.publicKey, ca.hash, leaf.tbs));
    } catch (err) {
      if (isWcaError(err)) throw err;
      throw new WcaError('ERR_SIGNER_FAILED', `signing failed (${(err as Error).name})`);
    } finally {
      this.inFlight--;
    }
  }

  close(): void {
    this.closed = true;
  }
}

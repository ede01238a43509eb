/**
 * A CaSigner whose private key never leaves the HSM. ECDSA goes through
 * CKM_ECDSA, which signs a digest we compute and returns raw r||s, exactly the
 * form the SDK expects; RSA through CKM_SHA256_RSA_PKCS, which hashes itself.
 */
import { type CaSigner, type SignatureAlgorithm, digestFor } from '../../src/upstream/sdk/ca-signer.js';
import { Mechanism, type Handle, type HsmSession } from './client.js';

export function hsmSigner(session: HsmSession, key: Handle, algorithm: SignatureAlgorithm, publicKeySpkiDer: Uint8Array): CaSigner {
  return {
    algorithm,
    publicKeySpkiDer,
    sign: async (data) =>
      algorithm === 'RS256'
        ? new Uint8Array(session.sign(key, Mechanism.SHA256_RSA_PKCS, Buffer.from(data)))
        : new Uint8Array(session.sign(key, Mechanism.ECDSA, digestFor(algorithm, data))),
  };
}

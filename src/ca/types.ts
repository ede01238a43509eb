/** The Authority's public contract: what SDS, the admin API and the CLI see. */
import type { IssuePriority } from './overload.js';

export type { IssuePriority };

import type { KeyType } from '../x509/key-types.js';

export interface LeafRequest {
  /** The SPIFFE ID the policy granted; validated again by the Authority. */
  spiffeId: string;
  dnsNames?: readonly string[];
  /** Requested lifetime; the Authority clamps to its maximum and the intermediate's notAfter. */
  ttlSeconds?: number;
  /** Who it is for, as the audit log names them (SDS callers). */
  subject?: { authenticator: string; nodeId?: string };
  /**
   * When the renewal lineage of the caller's credential began (mTLS renewal); the
   * leaf carries it in its wcaLineageStart extension. Absent or in the future: now.
   */
  lineageStartMs?: number;
  /**
   * Which renewal lineage the leaf belongs to (LINEAGE_ID_LENGTH bytes), carried in
   * the same extension. Absent or malformed: a new lineage (random id).
   */
  lineageId?: Uint8Array;
  /** Interactive (default) jumps ahead of bulk re-issuance in the signer queue (see ca/overload.ts). */
  priority?: IssuePriority;
}

export interface ServerKeyLeafRequest extends LeafRequest {
  /** Leaf key type; ec-p256 by default (the curve every Envoy accepts). */
  keyType?: KeyType;
}

export interface CsrLeafRequest extends LeafRequest {
  /** PKCS#10 request, DER or PEM. Its subject and SANs are ignored: the grant decides. */
  csr: Uint8Array | string;
}

export interface IssuedCert {
  spiffeId: string;
  /** PEM, leaf first, then intermediates up to (not including) the root. */
  chainPem: string;
  /** Hex serial number, as openssl prints it. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** Which CA slot signed it: lets SDS re-issue exactly the leaves a rotation affects. */
  caId: string;
}

export interface IssuedSvid extends IssuedCert {
  /** PKCS#8 PEM of the leaf key. Only this one object ever holds it. */
  privateKeyPem: string;
}

export interface TrustBundle {
  trustDomain: string;
  /** Root certificates, PEM, concatenated. */
  pem: string;
  /** Changes whenever the set of roots changes. */
  version: string;
}

export type AuthorityEvent =
  /** Leaves signed by these CA ids must be replaced (rotation, emergency revoke). */
  | { type: 'reissue'; caIds: readonly string[]; reason: string }
  /** The trust bundle changed; push it before any leaf that needs it. */
  | { type: 'bundle'; bundle: TrustBundle };

export interface LeafIssuer {
  readonly trustDomain: string;
  issue(request: ServerKeyLeafRequest): Promise<IssuedSvid>;
  issueForCsr(request: CsrLeafRequest): Promise<IssuedCert>;
  bundle(): TrustBundle;
  /**
   * PEM chain of each current signing slot (active, next, old): our intermediate
   * first, then the upstream's certificates above it, without the root.
   */
  intermediatesPem(): string[];
  /**
   * The chains of intermediates whose leaves may authenticate a renewal (prepared,
   * active, old), newest first. Never a tainted one: a taint says its key may be in
   * an attacker's hands, who could mint a leaf for any SPIFFE ID under it.
   */
  renewalIntermediatesPem(): string[];
  /** The chains of tainted intermediates: their leaves are refused as renewal credentials (`authority-tainted`). */
  taintedIntermediatesPem(): string[];
  /** Returns an unsubscribe function. */
  subscribe(listener: (event: AuthorityEvent) => void): () => void;
}

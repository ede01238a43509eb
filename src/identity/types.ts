/**
 * Who is calling (Authenticator) and what they may have (Policy). Deny by default:
 * no authenticator recognises the caller, or no policy rule grants it, means no cert.
 */

export interface CallerContext {
  /** How the call arrived. */
  transport: 'tcp' | 'tls' | 'unix';
  /** "ip:port" for TCP, the socket path for Unix sockets. */
  peerAddress: string;
  /**
   * Which transport connection (one HTTP/2 session: all of one Envoy's SDS streams)
   * carried the call: "ip:port" for TCP, a per-connection name for a Unix socket.
   * Absent where no SDS server built the context; peerAddress stands in.
   */
  connection?: string;
  /** gRPC metadata, lower-case keys. */
  metadata: ReadonlyMap<string, readonly string[]>;
  /** The client certificate chain presented over TLS, with OpenSSL's verdict on it; absent when none was presented. */
  peerChain?: PresentedChain;
  /** Envoy node identity from the first SDS request. */
  node?: { id: string; cluster: string };
}

/** A client certificate chain as a TLS listener received it. */
export interface PresentedChain {
  /** DER, leaf first, as the client sent them. */
  readonly certificates: readonly Uint8Array[];
  /**
   * null when OpenSSL validated the path during the handshake (RFC 5280 with the
   * TLS client purpose: name and path-length constraints, key usage, EKU, validity)
   * from the leaf to a root of the trust bundle; otherwise OpenSSL's error code.
   */
  readonly verifyError: string | null;
}

export interface Caller {
  /** Name of the authenticator that recognised the caller. */
  authenticator: string;
  /** Stable subject for audit logs (e.g. JWT sub, SPIFFE ID, join token id). */
  subject: string;
  /** Attributes policy rules match on (namespace, serviceAccount, aud, ...). */
  claims: Readonly<Record<string, unknown>>;
  /** A SPIFFE ID the credential is bound to (mtls, join-token, unix, insecure-dev). */
  boundSpiffeId?: string;
  /**
   * Set when the credential is itself one of our SVIDs (mtls renewal): when the
   * lineage of renewals it belongs to began (ms since the epoch). Certificates issued
   * to this caller carry it on; absent, their lineage starts at issue.
   */
  lineageStartMs?: number;
  /** With lineageStartMs: which lineage (its id), carried on by its certificates; absent for leaves from before the id. */
  lineageId?: Uint8Array;
  /** When this credential stops being good enough (a lineage reaching its maximum age): streams it opened end then. */
  validUntilMs?: number;
  /**
   * Which running instance the credential proves (a pod's UID, a join token's id,
   * the renewal lineage of an mTLS leaf), stable across that instance's reconnects. The SDS
   * cache keys private keys by it, so two instances of one subject never share a
   * key whatever node.id they send. Where a credential proves nothing narrower, the
   * credential itself (a digest of it) is the instance.
   */
  instance: string;
}

export interface Authenticator {
  readonly name: string;
  /**
   * null: this authenticator's credential is absent (try the next one).
   * Throws WcaError ERR_UNAUTHENTICATED when the credential is present but invalid:
   * never fall through to a weaker authenticator.
   */
  authenticate(context: CallerContext): Promise<Caller | null>;
}

export interface Grant {
  spiffeId: string;
  dnsNames: readonly string[];
  maxTtlSeconds: number;
  /** Which rule granted it and why, for the audit log. */
  rule: string;
  reason: string;
}

export interface Policy {
  /**
   * Throws WcaError ERR_PERMISSION_DENIED with a reason when nothing grants the caller,
   * ERR_SPIFFE_ID_RESERVED when what would be granted is reserved (spiffe/reserved.ts).
   */
  decide(caller: Caller): Grant;
}

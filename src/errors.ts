/**
 * One registry of error codes. Every code maps to a gRPC status and a CLI exit
 * code here, and nowhere else; docs/errors.md documents each (a test enforces it).
 * Messages must never include key material: callers pass identifiers, not secrets.
 */

/** gRPC status numbers (from grpc/status.proto) without importing grpc into the core. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** CLI exit codes: 0 ok, 1 runtime failure, 2 usage/input, 3 config, 4 upstream, 5 denied, 6 refused by the CA's state. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 3, UPSTREAM: 4, DENIED: 5, REFUSED: 6 } as const;

interface CodeInfo {
  readonly grpc: number;
  readonly exit: number;
}

const def = (grpc: number, exit: number): CodeInfo => ({ grpc, exit });
const G = GrpcStatus;
const E = ExitCode;

export const errorCodes = {
  // SPIFFE ID and X.509-SVID request validation
  ERR_SPIFFE_ID_INVALID: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_TRUST_DOMAIN_MISMATCH: def(G.PERMISSION_DENIED, E.USAGE),
  ERR_SPIFFE_ID_RESERVED: def(G.PERMISSION_DENIED, E.USAGE),
  ERR_DNS_NAME_INVALID: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_TTL_INVALID: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_KEY_TYPE_UNSUPPORTED: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_CSR_INVALID: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_CSR_SIGNATURE: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_CSR_REQUESTS_CA: def(G.PERMISSION_DENIED, E.USAGE),
  // CA state
  ERR_CA_NOT_READY: def(G.UNAVAILABLE, E.FAILURE),
  ERR_CA_OVERLOADED: def(G.RESOURCE_EXHAUSTED, E.FAILURE),
  ERR_CA_CLOSED: def(G.UNAVAILABLE, E.FAILURE),
  ERR_SIGNER_FAILED: def(G.INTERNAL, E.FAILURE),
  // Authority lifecycle (prepare / activate / taint / revoke)
  ERR_AUTHORITY_NOT_FOUND: def(G.NOT_FOUND, E.USAGE),
  ERR_AUTHORITY_TRANSITION: def(G.FAILED_PRECONDITION, E.REFUSED),
  ERR_ROTATION_INCOMPLETE: def(G.DEADLINE_EXCEEDED, E.FAILURE),
  // Certificates and chains
  ERR_CERT_PARSE: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_CHAIN_INVALID: def(G.FAILED_PRECONDITION, E.UPSTREAM),
  // Configuration
  ERR_CONFIG_INVALID: def(G.INVALID_ARGUMENT, E.CONFIG),
  ERR_CONFIG_FILE: def(G.INVALID_ARGUMENT, E.CONFIG),
  ERR_LISTEN_ADDRESS: def(G.INVALID_ARGUMENT, E.CONFIG),
  // Upstream authorities
  ERR_UPSTREAM_CONFIG: def(G.INVALID_ARGUMENT, E.CONFIG),
  ERR_UPSTREAM_PLUGIN_LOAD: def(G.INTERNAL, E.CONFIG),
  ERR_UPSTREAM_DEPENDENCY_MISSING: def(G.FAILED_PRECONDITION, E.CONFIG),
  ERR_UPSTREAM_AUTH: def(G.UNAVAILABLE, E.UPSTREAM),
  ERR_UPSTREAM_DENIED: def(G.UNAVAILABLE, E.UPSTREAM),
  ERR_UPSTREAM_THROTTLED: def(G.UNAVAILABLE, E.UPSTREAM),
  ERR_UPSTREAM_UNAVAILABLE: def(G.UNAVAILABLE, E.UPSTREAM),
  ERR_UPSTREAM_TIMEOUT: def(G.UNAVAILABLE, E.UPSTREAM),
  ERR_UPSTREAM_BAD_RESPONSE: def(G.UNAVAILABLE, E.UPSTREAM),
  ERR_UPSTREAM_CHAIN: def(G.UNAVAILABLE, E.UPSTREAM),
  // Identity
  ERR_UNAUTHENTICATED: def(G.UNAUTHENTICATED, E.DENIED),
  ERR_PERMISSION_DENIED: def(G.PERMISSION_DENIED, E.DENIED),
  ERR_JOIN_TOKEN_LIMIT: def(G.RESOURCE_EXHAUSTED, E.FAILURE),
  ERR_IDENTITY_EVICTED: def(G.UNAUTHENTICATED, E.DENIED),
  ERR_LINEAGE_EXPIRED: def(G.UNAUTHENTICATED, E.DENIED),
  ERR_EVICTION_LIMIT: def(G.RESOURCE_EXHAUSTED, E.FAILURE),
  // Shared state (several replicas)
  ERR_STATE_STORE_UNAVAILABLE: def(G.UNAVAILABLE, E.FAILURE),
  ERR_STATE_STORE_DEPENDENCY_MISSING: def(G.FAILED_PRECONDITION, E.CONFIG),
  ERR_STATE_STORE_SCHEMA: def(G.FAILED_PRECONDITION, E.CONFIG),
  ERR_REPLICA_NOT_FOUND: def(G.NOT_FOUND, E.USAGE),
  ERR_FLEET_NOT_REACHED: def(G.UNAVAILABLE, E.FAILURE),
  // Admin API
  ERR_ADMIN_UNAVAILABLE: def(G.UNAVAILABLE, E.FAILURE),
  ERR_ADMIN_SOCKET_UNSAFE: def(G.FAILED_PRECONDITION, E.CONFIG),
  // Health
  ERR_HEALTHCHECK_FAILED: def(G.UNAVAILABLE, E.FAILURE),
  // SDS protocol
  ERR_SDS_BAD_REQUEST: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_SDS_LIMIT: def(G.RESOURCE_EXHAUSTED, E.USAGE),
  ERR_SDS_UNKNOWN_RESOURCE: def(G.NOT_FOUND, E.USAGE),
  ERR_SDS_FIRST_REQUEST_TIMEOUT: def(G.DEADLINE_EXCEEDED, E.FAILURE),
  ERR_SDS_SHUTTING_DOWN: def(G.UNAVAILABLE, E.FAILURE),
  ERR_HEALTH_UNKNOWN_SERVICE: def(G.NOT_FOUND, E.USAGE),
  ERR_HEALTH_LIMIT: def(G.RESOURCE_EXHAUSTED, E.FAILURE),
  // Generic
  ERR_USAGE: def(G.INVALID_ARGUMENT, E.USAGE),
  ERR_INTERNAL: def(G.INTERNAL, E.FAILURE),
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof errorCodes;

/**
 * Typed reasons: the code says what kind of failure, `details.reason` which one. Clients
 * and tests branch on these, never on message text; the admin API sends the reason in
 * trailing metadata, and docs/errors.md lists every one (a test checks).
 */
const spiffeIdProblems = [
  'empty',
  'too-long',
  'wrong-scheme',
  'scheme-not-lowercase',
  'missing-trust-domain',
  'trust-domain-too-long',
  'trust-domain-chars',
  'port',
  'userinfo',
  'query',
  'fragment',
  'empty-segment',
  'dot-segment',
  'trailing-slash',
  'path-chars',
  /** A leaf for the bare trust domain ID (it names no workload). */
  'trust-domain-id',
] as const;

export const errorReasons = {
  ERR_SPIFFE_ID_INVALID: spiffeIdProblems,
  ERR_SPIFFE_ID_RESERVED: ['trust-domain-id', 'sds-server'],
  ERR_CSR_INVALID: ['too-large', 'pem', 'malformed', 'version', 'signature-algorithm', 'signature-algorithm-mismatch', 'ec-point', 'rsa-key'],
  ERR_CSR_SIGNATURE: ['signature'],
  ERR_CSR_REQUESTS_CA: ['requests-ca'],
  ERR_KEY_TYPE_UNSUPPORTED: ['signature-algorithm', 'key-algorithm', 'ec-curve', 'rsa-modulus', 'rsa-exponent'],
  ERR_AUTHORITY_TRANSITION: [
    'already-prepared',
    'duplicate-id',
    'not-prepared',
    'is-active',
    'not-old',
    'not-tainted',
    'force-needs-reason',
    'still-in-use',
    'in-progress',
    'claimed-twice',
  ],
  ERR_CONFIG_INVALID: ['profile-override'],
  ERR_CONFIG_FILE: ['too-large', 'unsafe-permissions'],
  ERR_UPSTREAM_PLUGIN_LOAD: ['unsafe-permissions'],
  ERR_LISTEN_ADDRESS: ['stale-socket-not-replaceable'],
  ERR_UPSTREAM_CONFIG: ['key-type', 'exportable', 'namespace-ignored', 'namespace-missing', 'no-revoke'],
  ERR_UPSTREAM_UNAVAILABLE: ['login-backoff'],
  ERR_UPSTREAM_TIMEOUT: ['deadline', 'aborted'],
  ERR_UNAUTHENTICATED: [
    // authorization metadata
    'multiple',
    'too-large',
    'not-bearer',
    // JWT
    'malformed',
    'unknown-issuer',
    'keys-unavailable',
    'no-matching-key',
    'alg-not-allowed',
    'signature',
    'claim-invalid',
    'internal',
    // Kubernetes TokenReview
    'not-authenticated',
    'audience',
    'not-service-account',
    'review-unavailable',
    // join tokens
    'unknown',
    'used',
    // client certificates (mTLS renewal, the admin API over TCP)
    'no-client-certificate',
    'tls-connection-unknown',
    'unparseable',
    'chain-invalid',
    'not-svid',
    'foreign-trust-domain',
    'leaf-is-ca',
    'not-issued-by-us',
    'authority-tainted',
    'not-yet-valid',
    // a JWT, a join token or a client certificate
    'expired',
  ],
  ERR_PERMISSION_DENIED: ['not-allowed'],
  ERR_IDENTITY_EVICTED: ['evicted'],
  ERR_LINEAGE_EXPIRED: ['lineage-max-age'],
  ERR_STATE_STORE_UNAVAILABLE: ['down', 'timeout', 'connection', 'query'],
  ERR_REPLICA_NOT_FOUND: ['unknown-replica'],
  ERR_AUTHORITY_NOT_FOUND: ['not-on-replica'],
  ERR_ADMIN_SOCKET_UNSAFE: ['not-a-directory', 'dir-owner', 'dir-mode', 'not-a-socket', 'socket-owner'],
  ERR_SDS_LIMIT: ['pending-streams', 'streams-per-address', 'streams', 'streams-per-instance', 'nodes-per-instance', 'identities', 'stream-names', 'event-loop-delay'],
  ERR_CA_OVERLOADED: ['queued-issuance', 'issuance-wait'],
  ERR_HEALTH_LIMIT: ['calls-per-address', 'calls'],
} as const satisfies Partial<Record<ErrorCode, readonly string[]>>;

/** The reasons a code may carry; `never` for a code that has none. */
export type ReasonOf<C extends ErrorCode> = C extends keyof typeof errorReasons ? (typeof errorReasons)[C][number] : never;

/**
 * A reason that crossed a boundary as text (the signer threads, the admin API's trailing
 * metadata) back as a typed one, when it is one of `code`'s; anything else is dropped.
 */
export function reasonOf<C extends ErrorCode>(code: C, text: unknown): ReasonOf<C> | undefined {
  const known: readonly string[] | undefined = (errorReasons as Partial<Record<ErrorCode, readonly string[]>>)[code];
  return typeof text === 'string' && known?.includes(text) ? (text as ReasonOf<C>) : undefined;
}

/** Structured, non-secret context (field paths, names, limits), with the code's typed reason. */
export type ErrorDetails<C extends ErrorCode = ErrorCode> = Readonly<Record<string, unknown>> & { readonly reason?: ReasonOf<C> };

export class WcaError<C extends ErrorCode = ErrorCode> extends Error {
  static readonly code: string = 'ERR_INTERNAL';
  readonly code: C;
  readonly details: ErrorDetails<C>;

  constructor(code: C, message: string, options: { cause?: unknown; details?: ErrorDetails<C> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WcaError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  get grpcStatus(): number {
    return errorCodes[this.code].grpc;
  }

  get exitCode(): number {
    return errorCodes[this.code].exit;
  }
}

export function isWcaError(err: unknown, code?: ErrorCode): err is WcaError {
  return err instanceof WcaError && (code === undefined || err.code === code);
}

/** gRPC status for any thrown value: unknown errors are INTERNAL with a generic message. */
export function grpcStatusOf(err: unknown): number {
  return err instanceof WcaError ? err.grpcStatus : GrpcStatus.INTERNAL;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof WcaError ? err.exitCode : ExitCode.FAILURE;
}

/** Message safe to show a remote peer: our own messages, never a foreign error's text. */
export function publicMessageOf(err: unknown): string {
  return err instanceof WcaError ? err.message : 'internal error';
}

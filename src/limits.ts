/**
 * Every hard limit in one place, so operators and reviewers find them together.
 * Config can lower some of these (see config/schema.ts); none can be raised past them.
 */
export const limits = {
  /** Audit events kept in memory for `audit tail`, and the most one call returns. */
  auditRingMax: 10_000,
  auditTailMax: 1_000,
  /** `audit tail --follow`: one ListAuditEvents call per this long per follower; nothing is held on the server between calls. */
  auditFollowPollMs: 1_000,
  /** Admin: longest operator reason kept in the audit log; EmergencyRotate's wait for ACKs. */
  adminReasonMaxLength: 1024,
  emergencyRotateDeadlineDefaultSeconds: 30,
  emergencyRotateDeadlineMaxSeconds: 600,
  /** Admin over TCP: SPIFFE IDs in the allow-list; connections in all (and ceiling of the per-address cap); calls at once per connection. */
  adminAllowListMax: 256,
  adminTcpConnectionsMax: 1024,
  adminTcpStreamsPerConnection: 8,
  /** Admin over TCP: audit lines a second for refused calls (no or bad client certificate, not allowed) per peer address; the rest are counted into the next one. */
  adminRefusalAuditPerSecond: 5,
  /**
   * Admin over TCP: peer addresses with a refusal budget of their own; further ones
   * share one, so refusals fill the audit ring (auditRingMax) at most (64 + 1) x 5 lines a second.
   */
  adminRefusalAuditAddresses: 64,
  /** SPIFFE spec: a SPIFFE ID URI is at most 2048 bytes. */
  spiffeIdMaxBytes: 2048,
  /** RFC 1035: a DNS name is at most 253 characters, a label at most 63. */
  dnsNameMaxLength: 253,
  dnsLabelMaxLength: 63,
  dnsNamesPerCert: 32,
  /** Largest config file read: real ones are a few KiB, and YAML parsing a wide map costs far more than its bytes. */
  configFileMaxBytes: 1024 * 1024,
  /** Unknown config keys listed one by one in an error; the rest are counted. */
  configUnknownKeysShown: 10,
  /** Largest CSR we parse (DER bytes); an RSA-4096 CSR with SANs is ~2 KiB. */
  csrMaxBytes: 16 * 1024,
  /** Largest RSA modulus accepted in a CSR: verification cost grows with its cube. */
  csrRsaMaxModulusBits: 8192,
  /** Ceiling of ca.maxQueuedIssuance: certificate issues queued or signing before callers get RESOURCE_EXHAUSTED. */
  signQueueMax: 50_000,
  /** Ceiling of ca.maxIssuanceWait, in seconds. */
  issuanceWaitMaxSeconds: 10,
  /** Requests per message from the main thread to a signer worker. */
  signBatchMax: 256,
  /** Digests per call to a remote key manager (Vault Transit batch_input); bounds one request body. */
  keySignBatchMax: 1000,
  /** Concurrent signing calls to a remote key manager. */
  keySignCallsInFlightMax: 64,
  /** Largest HTTP answer body read from an upstream (Vault); real answers are a few KiB. */
  upstreamResponseMaxBytes: 1024 * 1024,
  /** Shortest wait before renewing a Vault token or logging in again, whatever TTL the server granted. */
  vaultRenewMinDelayMs: 1000,
  /** A Vault lease shorter than this is suspicious: consecutive ones space out the next login (backoff up to vaultLoginBackoffMaxMs). */
  vaultShortLeaseSeconds: 10,
  vaultLoginBackoffMaxMs: 60_000,
  /** Certificates parsed from one upstream answer (a chain plus bundle roots); real chains hold 2–4. */
  upstreamCertificatesMax: 16,
  /** SDS: resource names per request and bytes per name. */
  sdsResourceNamesMax: 64,
  sdsResourceNameMaxBytes: 512,
  /** SDS: largest inbound gRPC message. */
  sdsMaxReceiveMessageBytes: 64 * 1024,
  /** SDS: names one stream holds subscribed at once (Delta adds up across requests; a caller has at most four real ones). */
  sdsStreamNamesMax: 64,
  /** SDS: bytes of node.id and of node.cluster (real ones are well under 256). */
  sdsNodeFieldMaxBytes: 1024,
  /** SDS: info lines per second for grants, and as many for denials; the rest are counted into the next line written. */
  sdsDecisionLinesPerSecond: 20,
  /** SDS: characters of a NACK's error_detail that reach the log, after escaping and redaction. */
  sdsNackDetailLoggedMax: 256,
  /**
   * SDS cache: node identities (each a key and certificate) one authenticated
   * instance holds, live or idle; Envoy restarts reuse their node.id.
   */
  sdsNodesPerInstanceMax: 16,
  /** SDS cache: node identities held in all; idle ones are dropped oldest first to make room. */
  sdsCachedIdentitiesMax: 50_000,
  /**
   * SDS cache: heap one node identity costs (key, certificate, PEMs, watchers, its
   * streams' state), rounded up from the ≈14 KB measured in a flood of new nodes.
   */
  sdsIdentityHeapBytes: 16 * 1024,
  /**
   * SDS cache: share of the V8 heap limit node identities may use by default, so a
   * flood of new nodes ends in RESOURCE_EXHAUSTED, not an out-of-memory crash.
   */
  sdsIdentityHeapShare: 0.4,
  /** Concurrent authenticated SDS streams per server; streams still waiting for their first request do not count. */
  sdsStreamsMax: 50_000,
  /** SDS TLS: open connections per client IP address (config sds.connections.perAddress may lower it). */
  sdsConnectionsPerAddressMax: 4096,
  /** SDS TLS: open connections in all, before the descriptor budget below lowers it further. */
  sdsConnectionsMax: 60_000,
  /**
   * File descriptors kept free of SDS connections (admin socket and its clients,
   * upstream calls, signer threads, logs): SDS accepts at most RLIMIT_NOFILE minus
   * this and minus httpConnectionsMax.
   */
  fdReserve: 256,
  /** Health/metrics HTTP: open connections in all (ceiling of http.maxConnections); reserved out of the SDS descriptor budget. */
  httpConnectionsMax: 128,
  /** Health/metrics HTTP: longest request/keep-alive timeout config may set, in seconds. */
  httpTimeoutMaxSeconds: 60,
  /** `healthcheck --timeout` ceiling: a probe that waits longer is no probe (and Node timers overflow past 24.8 days). */
  healthcheckTimeoutMaxSeconds: 600,
  /** Health/metrics HTTP: a /metrics rendering is reused this long, so a flood of scrapes costs one rendering. */
  metricsCacheMs: 1000,
  /** SDS TLS: longest handshake timeout config may set, in seconds. */
  tlsHandshakeTimeoutMaxSeconds: 120,
  /**
   * TLS listeners' PING interval and timeout, and the idle timeout, ceilings in seconds:
   * a silent peer must be found in hours, not never (and Node timers past 24.8 days fire at once).
   */
  pingIntervalMaxSeconds: 3600,
  pingTimeoutMaxSeconds: 600,
  connectionIdleTimeoutMaxSeconds: 86_400,
  /** Ceiling of sds.maxStreamsPerConnection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  sdsStreamsPerConnectionMax: 10_000,
  /** Ceiling of sds.maxStreamsPerInstance: concurrent authenticated SDS streams of one caller instance (a pod, a join token, an mTLS lineage). */
  sdsStreamsPerInstanceMax: 10_000,
  /** Ceiling of sds.maxStreamsPerAddress: concurrent SDS streams, authenticated or not, from one peer IPv4 address or IPv6 /64. */
  sdsStreamsPerAddressMax: 50_000,
  /** Ceiling of sds.maxPendingStreams: concurrent SDS streams not yet authenticated, per server. */
  sdsPendingStreamsMax: 50_000,
  /** Ceiling of sds.firstRequestTimeout: how long a stream may stay open without a first request. */
  sdsFirstRequestTimeoutMaxSeconds: 60,
  /** Ceiling of sds.maxEventLoopDelay. */
  sdsEventLoopDelayMaxSeconds: 10,
  /** Ceiling of shutdownTimeout: how long connections may take to close once every stream got its status. */
  shutdownTimeoutMaxSeconds: 300,
  /**
   * grpc.health.v1 calls (Check, List, Watch) open at once, in all and per peer IPv4
   * address or IPv6 /64. Health calls carry no credential (probes send none), so they
   * get their own small budget instead of the SDS stream caps: a probe flood can neither
   * hold memory without end nor take stream slots from Envoys. A Check is open for a
   * moment; a kubelet sends at most three probes at once per pod.
   */
  healthCallsMax: 256,
  healthCallsPerAddress: 16,
  /** How often open Watch streams re-check readiness (changes without an event: an intermediate expiring). */
  healthWatchPollMs: 1000,
  /** Concurrent certificate issues while renewing subscribers. */
  sdsIssueConcurrency: 512,
  /** JWT bytes accepted before any parsing. */
  jwtMaxBytes: 16 * 1024,
  /** Verified JWTs remembered (as SHA-256 digests) per issuer, so reconnects skip the signature check. */
  verifiedJwtCacheMax: 10_000,
  /** Largest JWKS or OIDC discovery document we read; real ones are a few KiB. */
  jwksMaxBytes: 256 * 1024,
  /** Outstanding (unused, unexpired) join tokens; bounds memory if the admin API is abused. */
  joinTokensMax: 100_000,
  /** Evicted identities remembered at once (each only until its certificates have expired). */
  evictionsMax: 100_000,
  /** Longest lifetime of a join token: it is a bearer credential, keep it short. */
  joinTokenMaxTtlSeconds: 7 * 24 * 3600,
  /**
   * Fleet-applied emergency rotations per replica: a burst of this many, then one per
   * fleetEmergencyRotateMinIntervalMs. Each is an upstream mint and a re-issue to every subscriber, and
   * rows are cheap to append; the rows that wait coalesce into the next rotation.
   */
  fleetEmergencyRotateBurst: 3,
  fleetEmergencyRotateMinIntervalMs: 10_000,
  /** Action seqs one coalesced fleet rotation lists in its log line (the count says how many more). */
  fleetCoalescedSeqsLogged: 100,
  /** Authority actions one catch-up read returns, and the most the memory store keeps. */
  stateActionsBatchMax: 1_000,
  /** Bytes of one replica's status summary in the shared store. */
  replicaStatusMaxBytes: 64 * 1024,
  /** Characters of an authority's reason in the heartbeat status (the full text stays in `authority show` and the audit log). */
  heartbeatReasonMaxChars: 128,
  /** A failing heartbeat is logged at warn once, then at most once per this many milliseconds until it succeeds again. */
  heartbeatFailureLogIntervalMs: 60_000,
  /** Replicas `live()` returns: bounds what a crowded table can make status read. */
  replicasMax: 1_000,
  /** How far in the future a heartbeat's last_seen may be (the database's clock writes it): later rows are forged, ignored. */
  replicaLastSeenSkewMs: 5_000,
  /** Characters of a replica id (a host name of up to 64 and a suffix fit). */
  replicaIdMaxLength: 128,
  /** Live replica ids an unknown-replica error lists. */
  replicaIdsListedMax: 10,
  /** Connections of the shared-state pool, at most. */
  statePoolMax: 100,
} as const;

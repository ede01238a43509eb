import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import { status as grpcStatus } from '@grpc/grpc-js';
import { packageVersion } from '../package-root.js';

/**
 * prom-client's gauges that `promtool check metrics` rejects (a `_total` suffix
 * belongs to counters); their values are in Node's own diagnostics anyway.
 */
const rejectedDefaults = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A gRPC status as its name (`INVALID_ARGUMENT`), as label values in dashboards read. */
export function grpcCodeName(code: number): string {
  return grpcStatus[code] ?? `UNKNOWN_${code}`;
}

/**
 * Every metric the process exports, created in one place with one registry per
 * process (tests create their own). Modules receive the Metrics object; none
 * creates metrics on its own.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) {
    collectDefaultMetrics({ register: registry });
    for (const name of rejectedDefaults) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  /** Values read at scrape time; the composition root fills them in. */
  const probes: {
    rotationOverdue?: () => boolean;
    stateStoreUp?: () => boolean;
    /** The SDS TLS listener's open connections and cap; undefined on plaintext or a Unix socket. */
    sdsConnections?: () => { open: number; max: number } | undefined;
  } = {};

  new Gauge({
    name: 'wca_build_info',
    help: 'Always 1; the labels say which workload-ca and Node.js are running',
    labelNames: ['version', 'node_version'] as const,
    registers,
  }).set({ version: packageVersion(), node_version: process.version }, 1);

  return {
    registry,
    probes,
    certsIssued: new Counter({
      name: 'wca_certs_issued_total',
      help: 'Leaf certificates issued',
      labelNames: ['path'] as const, // server_key | csr
      registers,
    }),
    issueErrors: new Counter({
      name: 'wca_issue_errors_total',
      help: 'Rejected or failed issue requests by error code',
      labelNames: ['code'] as const,
      registers,
    }),
    issueLatency: new Histogram({
      name: 'wca_issue_duration_seconds',
      help: 'Time from issue request to signed certificate',
      labelNames: ['path'] as const,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    }),
    subscribers: new Gauge({
      name: 'wca_subscribers',
      help: 'SDS streams by the authority of the certificate they hold: sent (not yet acknowledged), acked; nacked counts rejections',
      labelNames: ['authority', 'state'] as const,
      registers,
    }),
    shed: new Counter({
      name: 'wca_shed_total',
      help: 'Requests refused because a limit was reached (RESOURCE_EXHAUSTED), by the reason of the limit (queued-issuance, streams-per-instance, streams-per-address, ...; docs/errors.md)',
      labelNames: ['limit'] as const,
      registers,
    }),
    signQueueDepth: new Gauge({
      name: 'wca_sign_queue_depth',
      help: 'Signing requests waiting for a signer worker',
      registers,
    }),
    intermediateNotAfter: new Gauge({
      name: 'wca_intermediate_not_after_timestamp_seconds',
      help: 'notAfter of the intermediate in each slot, as a Unix timestamp in seconds',
      labelNames: ['slot'] as const, // active | next | old
      registers,
    }),
    intermediateTruncated: new Counter({
      name: 'wca_intermediate_ttl_truncated_total',
      help: 'Intermediates whose validity was shorter than requested',
      registers,
    }),
    heartbeatFailures: new Counter({
      name: 'wca_state_heartbeat_failures_total',
      help: 'Failed replica heartbeats (after missed beats the other replicas drop this one from the fleet)',
      registers,
    }),
    rotationFailures: new Counter({
      name: 'wca_rotation_failures_total',
      help: 'Failed rotation steps (the active intermediate keeps serving)',
      labelNames: ['step'] as const,
      registers,
    }),
    rotationConsecutiveFailures: new Gauge({
      name: 'wca_rotation_consecutive_failures',
      help: 'Rotation steps failed in a row; 0 once a step succeeds',
      registers,
    }),
    rotationOverdue: new Gauge({
      name: 'wca_rotation_overdue',
      help: '1 while the active intermediate is past the point its successor should be active and none is prepared',
      registers,
      collect() {
        this.set(probes.rotationOverdue?.() ? 1 : 0);
      },
    }),
    stateStoreUp: new Gauge({
      name: 'wca_state_store_up',
      help: '1 while the shared state store (state.store) is reachable; 0 while join tokens are refused and it reconnects',
      registers,
      collect() {
        this.set(probes.stateStoreUp?.() === false ? 0 : 1);
      },
    }),
    upstreamRequests: new Counter({
      name: 'wca_upstream_requests_total',
      help: 'Intermediate mint calls to the upstream authority, by plugin and outcome (minted | failed | timeout)',
      labelNames: ['plugin', 'outcome'] as const,
      registers,
    }),
    keySignCalls: new Counter({
      name: 'wca_key_sign_calls_total',
      help: 'Signing calls to a remote key manager (one per batch), by key manager and outcome',
      labelNames: ['key_manager', 'outcome'] as const,
      registers,
    }),
    keySignBatchSize: new Histogram({
      name: 'wca_key_sign_batch_size',
      help: 'Signatures per call to a remote key manager',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000],
      registers,
    }),
    upstreamRootChanges: new Counter({
      name: 'wca_upstream_root_changes_total',
      help: 'New roots the upstream announced after the first poll (each is trusted in the bundle; check its fingerprint in the log)',
      labelNames: ['plugin'] as const,
      registers,
    }),
    upstreamWarnings: new Counter({
      name: 'wca_upstream_warnings_total',
      help: 'Warnings returned by the upstream authority (e.g. a clamped TTL)',
      labelNames: ['plugin'] as const,
      registers,
    }),
    sdsStreams: new Gauge({
      name: 'wca_sds_streams',
      help: 'Open SDS streams',
      labelNames: ['kind'] as const, // sotw | delta
      registers,
    }),
    sdsConnections: new Gauge({
      name: 'wca_sds_connections',
      help: 'Connections the SDS TLS listener holds (handshakes included); at wca_sds_connection_cap new ones are closed at once',
      labelNames: ['state'] as const, // open
      registers,
      collect() {
        const connections = probes.sdsConnections?.();
        if (connections) this.set({ state: 'open' }, connections.open);
      },
    }),
    sdsConnectionCap: new Gauge({
      name: 'wca_sds_connection_cap',
      help: 'Connections the SDS TLS listener accepts at most (sds.connections.max, lowered to fit the descriptor limit)',
      registers,
      collect() {
        const connections = probes.sdsConnections?.();
        if (connections && Number.isFinite(connections.max)) this.set(connections.max);
      },
    }),
    sdsResponses: new Counter({
      name: 'wca_sds_responses_total',
      help: 'SDS responses sent',
      labelNames: ['kind'] as const,
      registers,
    }),
    sdsNacks: new Counter({
      name: 'wca_sds_nacks_total',
      help: 'SDS NACKs received',
      labelNames: ['resource'] as const,
      registers,
    }),
    sdsUnknownResources: new Counter({
      name: 'wca_sds_unknown_resources_total',
      help: 'SDS requests for resource names this server never serves (typos); streams stay open, the name is never sent',
      registers,
    }),
    sdsRejected: new Counter({
      name: 'wca_sds_rejected_total',
      help: 'SDS streams or requests rejected, by gRPC status name (grpcCodeName)',
      labelNames: ['code'] as const,
      registers,
    }),
    authDecisions: new Counter({
      name: 'wca_auth_decisions_total',
      help: 'Authentications on the SDS listener by authenticator and outcome (authenticated | invalid | absent); policy grants and denials are not counted here',
      labelNames: ['authenticator', 'decision'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

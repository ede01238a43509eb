import * as grpc from '@grpc/grpc-js';
import { WcaError, grpcStatusOf, publicMessageOf } from '../errors.js';
import type { JoinTokenStore } from '../identity/join-token/store.js';
import type { Logger } from '../telemetry/logger.js';
import { evictIdentity, type IdentityEviction } from './evict-handler.js';
import { createJoinToken } from './join-token-handler.js';
import {
  adminService,
  ERROR_CODE_KEY,
  ERROR_REASON_KEY,
  type CreateJoinTokenRequest,
  type CreateJoinTokenResponse,
  type EvictIdentityRequest,
  type EvictIdentityResponse,
} from './proto.js';
import { bindUnixSocket } from '../net/unix-socket.js';
import { bindGrpc, shutdownGrpc } from '../net/grpc-bind.js';
import { statSync } from 'node:fs';
import { noAudit, type Auditor } from '../audit/log.js';
import * as h from './authority-handler.js';
import type * as pb from './authority-proto.js';
import { prepareAdminSocketDir } from './socket-trust.js';
import { listenAdminTcp, type AdminTcpListener, type AdminTcpOptions } from './tcp-listener.js';
import type { AdminCaller } from './tcp-caller.js';
import type { FleetActions } from './fleet.js';
import { fleetCalls } from './fleet-calls.js';
import { systemClock } from '../clock.js';
import { limits } from '../limits.js';
import { LineBudget } from '../sds/decision-log.js';

export interface AdminServerOptions {
  joinTokens: JoinTokenStore;
  /** EvictIdentity's target; without it the call is UNIMPLEMENTED. */
  identities?: IdentityEviction;
  logger: Logger;
  /** Unix sockets only: file permissions are the admin API's access control. */
  listen: { kind: 'unix'; path: string };
  /** The authority calls; without them those RPCs answer UNIMPLEMENTED. */
  authority?: h.AuthorityAdminDeps;
  /** Every admin call (and join-token creation) is recorded here with its caller. */
  audit?: Auditor;
  /** Also serve the same calls on TCP, mutual TLS and allow-list only (admin.tcp). */
  tcp?: AdminTcpOptions;
  /** With a shared store: emergency rotation reaches every replica, taint and revoke the one holding the authority. */
  fleet?: FleetActions;
  /** This replica's id (App.replicaId): what `replica` in a request may name besides the fleet's live replicas. */
  replicaId?: string;
}

export interface AdminServer {
  readonly path: string;
  /** host:port of the TCP listener, when admin.tcp is configured. */
  readonly tcpAddress?: string;
  /** True from bind until close() (readiness). */
  accepting(): boolean;
  close(): Promise<void>;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { logger } = options;
  const path = options.listen.path;

  // Node cannot read a Unix socket peer's credentials (SO_PEERCRED) without a native
  // addon; mode 0600 means the caller is the socket's owner or root, and the audit says so.
  let caller: AdminCaller = { caller: `unix:${path}` };
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  addAdminService(server, options, () => caller);
  // Mode 0600 before the socket is reachable, in a directory no one else can write to:
  // its file permissions are the admin API's access control.
  let removeSocket: () => Promise<void>;
  try {
    await prepareAdminSocketDir(path);
    removeSocket = await bindUnixSocket(path, '0600', (address) =>
      bindGrpc(server, address, grpc.ServerCredentials.createInsecure()).then(() => undefined),
    );
  } catch (err) {
    // A server bound to the staging socket would keep the process alive after the error.
    server.forceShutdown();
    throw err;
  }
  caller = { caller: `unix:${path} (owner uid ${statSync(path).uid} or root)` };
  logger.info({ path }, 'admin API listening');

  let tcp: AdminTcpListener | undefined;
  if (options.tcp) {
    try {
      tcp = await listenAdminTcp(options.tcp, (tcpServer, identify) => addAdminService(tcpServer, options, identify), logger);
    } catch (err) {
      server.forceShutdown();
      await removeSocket();
      throw err;
    }
    logger.info({ address: tcp.address, allow: options.tcp.allow }, 'admin API listening on TCP (mutual TLS, allow-list)');
  }

  let accepting = true;
  return {
    path,
    ...(tcp ? { tcpAddress: tcp.address } : {}),
    accepting: () => accepting,
    async close() {
      accepting = false;
      await tcp?.close();
      await shutdownGrpc(server, 5000);
      await removeSocket();
    },
  };
}

/** The admin calls, each answered for the caller `identify` names, or refused when it says so. */
function addAdminService(server: grpc.Server, options: AdminServerOptions, identify: (call: grpc.ServerUnaryCall<unknown, unknown>) => AdminCaller): void {
  const { logger } = options;
  const audit = options.audit ?? noAudit;
  const refusals = new RefusalBudgets();
  const unary = <Req, Res>(handle: (request: Req, caller: string) => Res | Promise<Res>, audited?: (request: Req) => boolean) =>
    unaryCall(handle, logger, audit, identify, refusals, audited);
  const a = options.authority;
  const { identities, fleet } = options;
  const calls = a ? fleetCalls({ authority: a, fleet, replicaId: options.replicaId, logger }) : undefined;
  server.addService(adminService().service, {
    CreateJoinToken: unary<CreateJoinTokenRequest, CreateJoinTokenResponse>(async (request) => {
      const created = await createJoinToken(options.joinTokens, logger, request);
      audit.record({ type: 'join-token', action: 'created', tokenId: created.token_id, spiffeId: created.spiffe_id });
      return created;
    }),
    ...(identities ? { EvictIdentity: unary<EvictIdentityRequest, EvictIdentityResponse>((request) => evictIdentity(identities, logger, request)) } : {}),
    ...(a
      ? {
          GetAuthorityStatus: unary<pb.GetAuthorityStatusRequest, pb.AuthorityStatus>((r) => calls!.status(r)),
          PrepareAuthority: unary<pb.PrepareAuthorityRequest, pb.AuthorityStatus>((r) => calls!.prepare(r)),
          ActivateAuthority: unary<pb.AuthorityTransitionRequest, pb.AuthorityStatus>((r) => calls!.activate(r)),
          TaintAuthority: unary<pb.AuthorityTransitionRequest, pb.AuthorityStatus>((r, caller) => calls!.taint(r, caller)),
          RevokeAuthority: unary<pb.RevokeAuthorityRequest, pb.AuthorityStatus>((r, caller) => calls!.revoke(r, caller)),
          EmergencyRotate: unary<pb.EmergencyRotateRequest, pb.EmergencyRotateResponse>((r, caller) => calls!.emergencyRotate(r, caller)),
          GetBundle: unary<unknown, pb.GetBundleResponse>(() => h.getBundle(a)),
          // A follower's later polls (after_seq set) are not audited: each would be the next poll's news, a line a second per follower.
          ListAuditEvents: unary<pb.ListAuditEventsRequest, pb.ListAuditEventsResponse>(
            (r) => h.listAuditEvents(a, r),
            (r) => !Number(r.after_seq),
          ),
        }
      : {}),
  });
}

/**
 * A unary handler: our errors become their gRPC status plus the error code in
 * trailers; others are INTERNAL. Each call is audited with its caller and outcome.
 */
function unaryCall<Req, Res>(
  handle: (request: Req, caller: string) => Res | Promise<Res>,
  logger: Logger,
  audit: Auditor,
  identify: (call: grpc.ServerUnaryCall<unknown, unknown>) => AdminCaller,
  refusals: RefusalBudgets,
  /** Whether a successful call is audited; failures always are, refusals of the caller within a per-address budget. */
  audited: (request: Req) => boolean = () => true,
): grpc.handleUnaryCall<Req, Res> {
  return async (call, callback) => {
    const rpc = call.getPath().split('/').pop()!;
    const { caller, refusal } = identify(call as grpc.ServerUnaryCall<unknown, unknown>);
    if (refusal) {
      // Refused before the request is looked at: nothing an unknown caller sends reaches a handler, or floods the audit ring.
      const held = refusals.take(call.getPeer());
      if (held !== undefined) {
        const why = { refusal: String(refusal.details.reason ?? refusal.code), ...(held ? { suppressed: held } : {}) };
        audit.record({ type: 'admin', rpc, caller, outcome: 'error', code: refusal.code, detail: { ...auditDetail(call.request).detail, ...why } });
      }
      return callback({ code: grpcStatusOf(refusal), details: publicMessageOf(refusal), metadata: errorMetadata(refusal) });
    }
    try {
      const response = await handle(call.request, caller);
      // Sent through the actions log is not done: the replica that applies it audits the transition.
      const sent = (response as { sent?: unknown; sent_to?: unknown } | undefined);
      const outcome = sent?.sent === true || (typeof sent?.sent_to === 'string' && sent.sent_to !== '') ? 'sent' : 'ok';
      if (audited(call.request)) audit.record({ type: 'admin', rpc, caller, outcome, ...auditDetail(call.request) });
      callback(null, response);
    } catch (err) {
      audit.record({ type: 'admin', rpc, caller, outcome: 'error', code: err instanceof WcaError ? err.code : 'ERR_INTERNAL', ...auditDetail(call.request) });
      if (err instanceof WcaError) logger.warn({ code: err.code, rpc: call.getPath() }, err.message);
      else logger.error({ err, rpc: call.getPath() }, 'admin request failed');
      callback({ code: grpcStatusOf(err), details: publicMessageOf(err), metadata: errorMetadata(err) });
    }
  };
}

/** Our error code and reason in the trailers, for the CLI's exit code and message. */
function errorMetadata(err: unknown): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (err instanceof WcaError) {
    metadata.set(ERROR_CODE_KEY, err.code);
    if (typeof err.details.reason === 'string') metadata.set(ERROR_REASON_KEY, err.details.reason);
  }
  return metadata;
}

/**
 * Audit lines for refused callers, limits.adminRefusalAuditPerSecond a second per
 * peer address (as the SDS decision log budgets its lines): the next line written
 * carries `suppressed`, so a flood of refused calls cannot push the operator's
 * records out of the ring. Addresses beyond limits.adminRefusalAuditAddresses share
 * one budget, so memory stays bounded whatever addresses call.
 */
class RefusalBudgets {
  private readonly byAddress = new Map<string, LineBudget>();
  private readonly others = new LineBudget(systemClock, limits.adminRefusalAuditPerSecond);

  /** As LineBudget.take: lines held back before this one, or undefined to hold this one back. `peer` is getPeer()'s "address:port". */
  take(peer: string): number | undefined {
    const address = peer.replace(/:\d+$/, '');
    let budget = this.byAddress.get(address);
    if (budget === undefined) {
      if (this.byAddress.size >= limits.adminRefusalAuditAddresses) return this.others.take();
      budget = new LineBudget(systemClock, limits.adminRefusalAuditPerSecond);
      this.byAddress.set(address, budget);
    }
    return budget.take();
  }
}

/** The operator's arguments worth keeping (authority id, reason, flags); never a token or a key. */
function auditDetail(request: unknown): { detail?: Record<string, string | number | boolean> } {
  const r = (request ?? {}) as Record<string, unknown>;
  const detail: Record<string, string | number | boolean> = {};
  for (const k of ['id', 'reason', 'force', 'upstream', 'spiffe_id', 'deadline_seconds', 'replica'] as const) {
    const v = r[k];
    if (typeof v === 'string' && v !== '') detail[k] = v.slice(0, 1024);
    else if (typeof v === 'boolean' || typeof v === 'number') detail[k] = v;
  }
  return Object.keys(detail).length ? { detail } : {};
}

import * as grpc from '@grpc/grpc-js';
import { errorCodes, reasonOf, WcaError, type ErrorCode } from '../errors.js';
import type * as pb from './authority-proto.js';
import {
  adminService,
  ERROR_CODE_KEY,
  ERROR_REASON_KEY,
  type CreateJoinTokenRequest,
  type CreateJoinTokenResponse,
  type EvictIdentityRequest,
  type EvictIdentityResponse,
} from './proto.js';
import { adminUnavailable, checkAdminSocket } from './socket-trust.js';

type UnaryMethod = (
  request: unknown,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response: unknown) => void,
) => void;

export interface AdminClient {
  createJoinToken(request: CreateJoinTokenRequest): Promise<CreateJoinTokenResponse>;
  evictIdentity(request: EvictIdentityRequest): Promise<EvictIdentityResponse>;
  getAuthorityStatus(request?: pb.GetAuthorityStatusRequest): Promise<pb.AuthorityStatus>;
  prepareAuthority(request: pb.PrepareAuthorityRequest): Promise<pb.AuthorityStatus>;
  activateAuthority(request: pb.AuthorityTransitionRequest): Promise<pb.AuthorityStatus>;
  taintAuthority(request: pb.AuthorityTransitionRequest): Promise<pb.AuthorityStatus>;
  revokeAuthority(request: pb.RevokeAuthorityRequest): Promise<pb.AuthorityStatus>;
  emergencyRotate(request: pb.EmergencyRotateRequest): Promise<pb.EmergencyRotateResponse>;
  getBundle(): Promise<pb.GetBundleResponse>;
  listAuditEvents(request: Partial<pb.ListAuditEventsRequest>): Promise<pb.ListAuditEventsResponse>;
  close(): void;
}

/** The admin API over TCP: its host:port and this client's mutual TLS credentials (PEM, in memory). */
export interface AdminTcpTarget {
  address: string;
  caPem: string;
  /** Both or neither; the server refuses a caller without a certificate. */
  certPem?: string;
  keyPem?: string;
}

/**
 * A client of the admin API on a Unix socket; server errors come back as the same
 * WcaError codes. Throws before connecting when the socket is not this user's.
 */
export function connectAdmin(socketPath: string, options: { timeoutMs?: number } = {}): AdminClient {
  checkAdminSocket(socketPath);
  return adminClient(`unix:${socketPath}`, grpc.credentials.createInsecure(), () => adminUnavailable(socketPath), options);
}

/**
 * A client of the admin API over TCP with mutual TLS. The server's certificate is
 * checked against caPem and the host name dialled, as kubectl and vault do.
 */
export function connectAdminTcp(target: AdminTcpTarget, options: { timeoutMs?: number } = {}): AdminClient {
  const credentials = grpc.credentials.createSsl(
    Buffer.from(target.caPem),
    target.keyPem === undefined ? null : Buffer.from(target.keyPem),
    target.certPem === undefined ? null : Buffer.from(target.certPem),
  );
  const unavailable = () =>
    new WcaError('ERR_ADMIN_UNAVAILABLE', `cannot reach the admin API at ${target.address} over mutual TLS (is it listening, and does --ca hold the root of its certificate?)`);
  return adminClient(target.address, credentials, unavailable, options);
}

function adminClient(address: string, credentials: grpc.ChannelCredentials, unavailable: () => WcaError, options: { timeoutMs?: number }): AdminClient {
  const Client = adminService();
  const client = new Client(address, credentials) as unknown as grpc.Client & Record<string, UnaryMethod>;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const call = <Req, Res>(method: string, request: Req, deadlineMs = timeoutMs): Promise<Res> =>
    new Promise((resolve, reject) => {
      client[method]!(request, { deadline: Date.now() + deadlineMs }, (err, response) =>
        err ? reject(toWcaError(err, unavailable)) : resolve(response as Res),
      );
    });

  return {
    createJoinToken: (request) => call('CreateJoinToken', request),
    evictIdentity: (request) => call('EvictIdentity', request),
    getAuthorityStatus: (request = {}) => call('GetAuthorityStatus', request),
    // Minting goes through the upstream, which has its own (longer) deadlines.
    prepareAuthority: (request) => call('PrepareAuthority', request, Math.max(timeoutMs, 120_000)),
    activateAuthority: (request) => call('ActivateAuthority', request),
    taintAuthority: (request) => call('TaintAuthority', request),
    revokeAuthority: (request) => call('RevokeAuthority', request, Math.max(timeoutMs, 120_000)),
    emergencyRotate: (request) => call('EmergencyRotate', request, Math.max(timeoutMs, 120_000 + request.deadline_seconds * 1000)),
    getBundle: () => call('GetBundle', {}),
    listAuditEvents: (request) => call('ListAuditEvents', request),
    close: () => client.close(),
  };
}

function toWcaError(err: grpc.ServiceError, unavailable: () => WcaError): WcaError {
  const code = String(err.metadata?.get(ERROR_CODE_KEY)[0] ?? '');
  if (code in errorCodes) {
    const reason = reasonOf(code as ErrorCode, err.metadata?.get(ERROR_REASON_KEY)[0]);
    return new WcaError(code as ErrorCode, err.details, reason === undefined ? {} : { details: { reason } });
  }
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) return unavailable();
  return new WcaError('ERR_INTERNAL', `admin API call failed: ${err.details}`);
}

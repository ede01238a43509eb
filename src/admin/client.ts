import * as grpc from '@grpc/grpc-js';
import { errorCodes, WcaError, type ErrorCode } from '../errors.js';
import {
  adminService,
  ERROR_CODE_KEY,
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
  close(): void;
}

/**
 * A client of the admin API on a Unix socket; server errors come back as the same
 * WcaError codes. Throws before connecting when the socket is not this user's.
 */
export function connectAdmin(socketPath: string, options: { timeoutMs?: number } = {}): AdminClient {
  checkAdminSocket(socketPath);
  const Client = adminService();
  const client = new Client(`unix:${socketPath}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, UnaryMethod>;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const call = <Req, Res>(method: string, request: Req): Promise<Res> =>
    new Promise((resolve, reject) => {
      client[method]!(request, { deadline: Date.now() + timeoutMs }, (err, response) =>
        err ? reject(toWcaError(err, socketPath)) : resolve(response as Res),
      );
    });

  return {
    createJoinToken: (request) => call('CreateJoinToken', request),
    evictIdentity: (request) => call('EvictIdentity', request),
    close: () => client.close(),
  };
}

function toWcaError(err: grpc.ServiceError, socketPath: string): WcaError {
  const code = String(err.metadata?.get(ERROR_CODE_KEY)[0] ?? '');
  if (code in errorCodes) return new WcaError(code as ErrorCode, err.details);
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) return adminUnavailable(socketPath);
  return new WcaError('ERR_INTERNAL', `admin API call failed: ${err.details}`);
}

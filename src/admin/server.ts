import * as grpc from '@grpc/grpc-js';
import { WcaError, grpcStatusOf, publicMessageOf } from '../errors.js';
import type { JoinTokenStore } from '../identity/join-token/store.js';
import type { Logger } from '../telemetry/logger.js';
import { evictIdentity, type IdentityEviction } from './evict-handler.js';
import { createJoinToken } from './join-token-handler.js';
import {
  adminService,
  ERROR_CODE_KEY,
  type CreateJoinTokenRequest,
  type CreateJoinTokenResponse,
  type EvictIdentityRequest,
  type EvictIdentityResponse,
} from './proto.js';
import { bindUnixSocket } from '../net/unix-socket.js';
import { bindGrpc } from '../net/grpc-bind.js';
import { prepareAdminSocketDir } from './socket-trust.js';

export interface AdminServerOptions {
  joinTokens: JoinTokenStore;
  /** EvictIdentity's target; without it the call is UNIMPLEMENTED. */
  identities?: IdentityEviction;
  logger: Logger;
  /** Unix sockets only: file permissions are the admin API's access control. */
  listen: { kind: 'unix'; path: string };
}

export interface AdminServer {
  readonly path: string;
  close(): Promise<void>;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { logger } = options;
  const path = options.listen.path;

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  const { identities } = options;
  server.addService(adminService().service, {
    CreateJoinToken: unary<CreateJoinTokenRequest, CreateJoinTokenResponse>((request) => createJoinToken(options.joinTokens, logger, request), logger),
    ...(identities
      ? { EvictIdentity: unary<EvictIdentityRequest, EvictIdentityResponse>((request) => evictIdentity(identities, logger, request), logger) }
      : {}),
  });
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
  logger.info({ path }, 'admin API listening');

  return {
    path,
    async close() {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 5000);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await removeSocket();
    },
  };
}

/** A unary handler: our errors become their gRPC status plus the error code in trailers; others are INTERNAL. */
function unary<Req, Res>(handle: (request: Req) => Res | Promise<Res>, logger: Logger): grpc.handleUnaryCall<Req, Res> {
  return async (call, callback) => {
    try {
      callback(null, await handle(call.request));
    } catch (err) {
      const metadata = new grpc.Metadata();
      if (err instanceof WcaError) {
        metadata.set(ERROR_CODE_KEY, err.code);
        logger.warn({ code: err.code, rpc: call.getPath() }, err.message);
      } else {
        logger.error({ err, rpc: call.getPath() }, 'admin request failed');
      }
      callback({ code: grpcStatusOf(err), details: publicMessageOf(err), metadata });
    }
  };
}

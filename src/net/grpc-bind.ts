import * as grpc from '@grpc/grpc-js';
import { WcaError } from '../errors.js';

/** grpc-js bindAsync as a promise; a failure to bind is a listen-address error (exit 3), not an internal one. */
export function bindGrpc(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(address, credentials, (err, port) =>
      err ? reject(new WcaError('ERR_LISTEN_ADDRESS', `cannot listen on ${address}: ${err.message}`)) : resolve(port),
    ),
  );
}

/** Lets calls in progress finish, then cuts whatever is left after forceAfterMs. */
export function shutdownGrpc(server: grpc.Server, forceAfterMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), forceAfterMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

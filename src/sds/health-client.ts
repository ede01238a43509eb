import * as grpc from '@grpc/grpc-js';
import { WcaError } from '../errors.js';
import { healthTypes, ServingStatus } from './health.js';

/**
 * A grpc.health.v1 Check client, for `workload-ca healthcheck --grpc`: one call
 * with a deadline, no credential (like a Kubernetes gRPC probe or Envoy's health
 * checker). Resolves with the ServingStatus name.
 */
export async function checkHealth(
  target: string,
  credentials: grpc.ChannelCredentials,
  service: string,
  timeoutMs: number,
  options: grpc.ChannelOptions = {},
): Promise<string> {
  const { request, response } = healthTypes();
  const client = new grpc.Client(target, credentials, options);
  try {
    return await new Promise<string>((resolve, reject) =>
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (r: { service: string }) => Buffer.from(request.encode(r).finish()),
        (b: Buffer) => (response.decode(b) as unknown as { status?: number }).status ?? ServingStatus.UNKNOWN,
        { service },
        { deadline: Date.now() + timeoutMs },
        (err, status) => {
          if (err) {
            const problem = err.code === grpc.status.DEADLINE_EXCEEDED ? `no answer within ${timeoutMs} ms` : `${grpc.status[err.code]}: ${err.details}`;
            return reject(new WcaError('ERR_HEALTHCHECK_FAILED', `grpc.health.v1 Check at ${target}: ${problem}`, { details: { problem } }));
          }
          resolve(Object.entries(ServingStatus).find(([, n]) => n === status)?.[0] ?? `status ${status}`);
        },
      ),
    );
  } finally {
    client.close();
  }
}

import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/** A grpc.health.v1 client over the vendored proto, as a Kubernetes gRPC probe or Envoy's health checker would send: no credential. */
const root = protobuf.loadSync(path.resolve(import.meta.dirname, '../../protos/grpc-health/grpc/health/v1/health.proto'));
const Request = root.lookupType('grpc.health.v1.HealthCheckRequest');
const Response = root.lookupType('grpc.health.v1.HealthCheckResponse');

const method = (name: string, responseStream: boolean) => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: (r: { service: string }) => Buffer.from(Request.encode(r).finish()),
  requestDeserialize: (b: Buffer) => Request.decode(b),
  responseSerialize: (r: { status: number }) => Buffer.from(Response.encode(r).finish()),
  responseDeserialize: (b: Buffer) => Response.toObject(Response.decode(b), { enums: String, defaults: true }) as { status: string },
});
const HealthClient = grpc.makeGenericClientConstructor({ Check: method('Check', false), Watch: method('Watch', true) }, 'Health');

export interface Health {
  check(service?: string): Promise<string>;
  /** Opens a Watch; `statuses` collects what arrives, `ended` settles with the final status. */
  watch(service?: string): { statuses: string[]; ended: Promise<grpc.StatusObject>; first: Promise<string>; cancel(): void };
  close(): void;
}

export function healthClient(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): Health {
  const target = address.startsWith('unix:') ? address : `dns:${address}`;
  const client = new HealthClient(target, credentials, options) as unknown as grpc.Client & {
    Check(r: { service: string }, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
    Watch(r: { service: string }): grpc.ClientReadableStream<{ status: string }>;
  };
  return {
    check: (service = '') =>
      new Promise((resolve, reject) => client.Check({ service }, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res!.status)))),
    watch(service = '') {
      const call = client.Watch({ service });
      const statuses: string[] = [];
      const first = new Promise<string>((resolve) => call.once('data', (r: { status: string }) => resolve(r.status)));
      call.on('data', (r: { status: string }) => statuses.push(r.status));
      const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('error', () => undefined);
      return { statuses, ended, first, cancel: () => call.cancel() };
    },
    close: () => client.close(),
  };
}

/**
 * The baseline for bench/sds-scale.ts: a gRPC server on the same grpc-js, with the
 * same server options and service path as the SDS server, that does nothing but
 * answer each stream's first request with a canned Secret the bench client
 * accepts (its "leaf" is just the node's SPIFFE ID). The time the same clients
 * take to be served by it is what this machine, grpc-js and the client cost on
 * their own, measured in the same run as the real server.
 */
import * as grpc from '@grpc/grpc-js';
import { loadEnvoyProtos, secretTypeUrl } from '../src/sds/protos.js';
import { sdsGrpcServerOptions } from '../src/sds/server.js';

const root = loadEnvoyProtos(['envoy/service/secret/v3/sds.proto', 'envoy/extensions/transport_sockets/tls/v3/secret.proto']);
const DiscoveryRequest = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const DiscoveryResponse = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const Secret = root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');

const pem = (label: string, body: Buffer) => Buffer.from(`-----BEGIN ${label}-----\n${body.toString('base64')}\n-----END ${label}-----\n`);

function secretFor(name: string, nodeId: string): Uint8Array {
  if (name === 'ROOTCA') return Secret.encode({ name, validation_context: { trusted_ca: { inline_bytes: pem('CERTIFICATE', Buffer.from('root')) } } }).finish();
  const leaf = pem('CERTIFICATE', Buffer.from(`spiffe://cluster.local/${nodeId}`));
  return Secret.encode({ name, tls_certificate: { certificate_chain: { inline_bytes: leaf }, private_key: { inline_bytes: pem('PRIVATE KEY', Buffer.from('key')) } } }).finish();
}

const identity = (bytes: Buffer) => bytes;
const definition: grpc.ServiceDefinition = {
  StreamSecrets: {
    path: '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface EchoServer {
  address: string;
  close(): void;
}

export async function startEchoServer(): Promise<EchoServer> {
  const server = new grpc.Server(sdsGrpcServerOptions);
  server.addService(definition, {
    StreamSecrets: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      let answered = false;
      call.on('data', (bytes: Buffer) => {
        if (answered) return; // ACKs
        answered = true;
        const request = DiscoveryRequest.decode(bytes) as unknown as { node: { id: string }; resource_names: string[] };
        const name = request.resource_names[0]!;
        const resources = [{ type_url: secretTypeUrl, value: secretFor(name, request.node.id) }];
        call.write(Buffer.from(DiscoveryResponse.encode({ version_info: 'echo', resources, type_url: secretTypeUrl, nonce: '1' }).finish()));
      });
      call.on('error', () => undefined);
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

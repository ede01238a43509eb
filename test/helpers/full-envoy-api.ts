/**
 * The whole Envoy API as bundled in @grpc/grpc-js-xds (a devDependency), for tests
 * that load messages the server itself never needs (Envoy's Bootstrap). The server
 * loads only the copies in protos/third_party/.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type protobuf from 'protobufjs';
import { parse } from 'yaml';
import { loadEnvoyProtos } from '../../src/sds/protos.js';
import { fromProtoJson } from '../sds/proto-json.js';

const require = createRequire(import.meta.url);
const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const fullEnvoyApiIncludeDirs: readonly string[] = [
  ...['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((dir) => path.join(deps, dir)),
  path.dirname(require.resolve('protobufjs/package.json')), // google/protobuf/descriptor.proto
];

let bootstrap: protobuf.Type | undefined;

/**
 * Loads an Envoy bootstrap (YAML) into the official Bootstrap message, failing on any
 * unknown field, bad enum or unknown @type among the extensions our examples use;
 * returns it decoded again, enums as names.
 */
export function loadBootstrap(yamlText: string): any {
  bootstrap ??= loadEnvoyProtos(
    [
      'envoy/config/bootstrap/v3/bootstrap.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/extensions/transport_sockets/tls/v3/tls.proto',
      'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
      'envoy/config/grpc_credential/v3/file_based_metadata.proto',
    ],
    fullEnvoyApiIncludeDirs,
  ).lookupType('envoy.config.bootstrap.v3.Bootstrap');
  const message = bootstrap.fromObject(fromProtoJson(bootstrap, parse(yamlText)));
  const problem = bootstrap.verify(message);
  if (problem) throw new Error(problem);
  return bootstrap.toObject(bootstrap.decode(bootstrap.encode(message).finish()), { enums: String });
}

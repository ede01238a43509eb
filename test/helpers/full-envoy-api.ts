/**
 * The whole Envoy API as bundled in @grpc/grpc-js-xds (a devDependency), for tests
 * that load messages the server itself never needs (Envoy's Bootstrap). The server
 * loads only the copies in protos/third_party/.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const fullEnvoyApiIncludeDirs: readonly string[] = [
  ...['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((dir) => path.join(deps, dir)),
  path.dirname(require.resolve('protobufjs/package.json')), // google/protobuf/descriptor.proto
];

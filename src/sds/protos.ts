import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../package-root.js';

/**
 * The official Envoy protos the SDS server needs, copied from @grpc/grpc-js-xds into
 * protos/third_party/ by scripts/refresh-envoy-protos.mjs (so grpc-js-xds is not a
 * runtime dependency). Loaded once per process: parsing them takes tens of
 * milliseconds and the types are immutable.
 */
const require = createRequire(import.meta.url);
const thirdParty = path.join(packageRoot, 'protos/third_party');

export const envoyProtoIncludeDirs: readonly string[] = [
  ...['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((dir) => path.join(thirdParty, dir)),
  // google/protobuf/descriptor.proto (imported by validate.proto) ships with protobufjs.
  path.dirname(require.resolve('protobufjs/package.json')),
];

export const secretTypeUrl = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
export const spiffeValidatorTypeUrl =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig';
export const sdsServiceName = 'envoy.service.secret.v3.SecretDiscoveryService';

/** Loads official proto files (paths relative to the include dirs) into a fresh, resolved Root. */
export function loadEnvoyProtos(files: readonly string[], includeDirs: readonly string[] = envoyProtoIncludeDirs): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    const found = includeDirs.map((dir) => path.join(dir, target)).find((p) => existsSync(p));
    return found ?? target;
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

export interface SdsProtos {
  readonly root: protobuf.Root;
  readonly DiscoveryRequest: protobuf.Type;
  readonly DiscoveryResponse: protobuf.Type;
  readonly DeltaDiscoveryRequest: protobuf.Type;
  readonly DeltaDiscoveryResponse: protobuf.Type;
  readonly Secret: protobuf.Type;
  readonly SPIFFECertValidatorConfig: protobuf.Type;
}

let loaded: SdsProtos | undefined;

export function sdsProtos(): SdsProtos {
  if (loaded) return loaded;
  const root = loadEnvoyProtos([
    'envoy/service/secret/v3/sds.proto',
    'envoy/extensions/transport_sockets/tls/v3/secret.proto',
    'envoy/extensions/transport_sockets/tls/v3/tls_spiffe_validator_config.proto',
  ]);
  loaded = Object.freeze({
    root,
    DiscoveryRequest: root.lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
    DiscoveryResponse: root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    DeltaDiscoveryRequest: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
    DeltaDiscoveryResponse: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
    Secret: root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret'),
    SPIFFECertValidatorConfig: root.lookupType('envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig'),
  });
  return loaded;
}

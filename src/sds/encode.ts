import protobuf from 'protobufjs';
import { sdsProtos, secretTypeUrl } from './protos.js';
import type { DeltaResponse, Resource, SotwResponse } from './types.js';

/**
 * The wire edge, outbound. A certificate or bundle goes to many streams (a
 * bundle to every node, a certificate to each of its node's streams, and again
 * on every re-issue), so its google.protobuf.Any is encoded once per Resource and
 * each response only copies those bytes between its own few small fields.
 * Field numbers come from the official descriptors, so they cannot drift from
 * the protos; test/sds/encode.test.ts checks the bytes against protobufjs.
 */

/** Tag of a length-delimited field (wire type 2) of `type`, from its descriptor. */
function tagOf(type: protobuf.Type, field: string): number {
  const found = type.fields[field];
  if (!found) throw new Error(`${type.fullName} has no field ${field}`);
  return (found.id << 3) | 2;
}

function buildTags() {
  const { DiscoveryResponse, DeltaDiscoveryResponse, root } = sdsProtos();
  const Resource = root.lookupType('envoy.service.discovery.v3.Resource');
  const Any = root.lookupType('google.protobuf.Any');
  return Object.freeze({
    sotw: {
      versionInfo: tagOf(DiscoveryResponse, 'version_info'),
      resources: tagOf(DiscoveryResponse, 'resources'),
      typeUrl: tagOf(DiscoveryResponse, 'type_url'),
      nonce: tagOf(DiscoveryResponse, 'nonce'),
    },
    delta: {
      systemVersionInfo: tagOf(DeltaDiscoveryResponse, 'system_version_info'),
      resources: tagOf(DeltaDiscoveryResponse, 'resources'),
      typeUrl: tagOf(DeltaDiscoveryResponse, 'type_url'),
      removedResources: tagOf(DeltaDiscoveryResponse, 'removed_resources'),
      nonce: tagOf(DeltaDiscoveryResponse, 'nonce'),
    },
    resource: { name: tagOf(Resource, 'name'), version: tagOf(Resource, 'version'), resource: tagOf(Resource, 'resource') },
    any: { typeUrl: tagOf(Any, 'type_url'), value: tagOf(Any, 'value') },
  });
}

let builtTags: ReturnType<typeof buildTags> | undefined;
/** Built on first use, like sdsProtos(): importing this module parses nothing. */
const tags = () => (builtTags ??= buildTags());

const encodedAny = new WeakMap<Resource, Uint8Array>();

/** The resource as an encoded google.protobuf.Any, computed once per Resource object. */
function anyOf(resource: Resource): Uint8Array {
  let bytes = encodedAny.get(resource);
  if (!bytes) {
    const writer = protobuf.Writer.create();
    const { any } = tags();
    writer.uint32(any.typeUrl).string(resource.typeUrl);
    writer.uint32(any.value).bytes(resource.value);
    bytes = writer.finish();
    encodedAny.set(resource, bytes);
  }
  return bytes;
}

/** grpc-js wants a Buffer; protobufjs already returns one under Node, so avoid a copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Empty strings are left out, as proto3 encoders do. */
function stringField(writer: protobuf.Writer, tag: number, value: string): void {
  if (value !== '') writer.uint32(tag).string(value);
}

export function encodeSotwResponse(response: SotwResponse): Buffer {
  const { sotw } = tags();
  const writer = protobuf.Writer.create();
  stringField(writer, sotw.versionInfo, response.versionInfo);
  for (const resource of response.resources) writer.uint32(sotw.resources).bytes(anyOf(resource));
  stringField(writer, sotw.typeUrl, secretTypeUrl);
  stringField(writer, sotw.nonce, response.nonce);
  return asBuffer(writer.finish());
}

export function encodeDeltaResponse(response: DeltaResponse): Buffer {
  const { delta, resource: r } = tags();
  const writer = protobuf.Writer.create();
  stringField(writer, delta.systemVersionInfo, response.systemVersionInfo);
  for (const resource of response.resources) {
    // Resource is a nested message: fork() writes it, ldelim() prefixes its length.
    writer.uint32(delta.resources).fork();
    stringField(writer, r.name, resource.name);
    stringField(writer, r.version, resource.version);
    writer.uint32(r.resource).bytes(anyOf(resource));
    writer.ldelim();
  }
  stringField(writer, delta.typeUrl, secretTypeUrl);
  for (const name of response.removed) writer.uint32(delta.removedResources).string(name);
  stringField(writer, delta.nonce, response.nonce);
  return asBuffer(writer.finish());
}

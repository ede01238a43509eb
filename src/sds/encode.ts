import type protobuf from 'protobufjs';
import type { Any__Output as Any } from '../generated/proto/google/protobuf/Any.js';
import type { DeltaDiscoveryResponse } from '../generated/proto/envoy/service/discovery/v3/DeltaDiscoveryResponse.js';
import type { DiscoveryResponse } from '../generated/proto/envoy/service/discovery/v3/DiscoveryResponse.js';
import type { Resource as ResourceMessage } from '../generated/proto/envoy/service/discovery/v3/Resource.js';
import { sdsProtos, secretTypeUrl } from './protos.js';
import type { DeltaResponse, Resource, SotwResponse } from './types.js';

/**
 * The wire edge, outbound. A certificate or bundle goes to many streams (a
 * bundle to every node, a certificate to each of its node's streams), so it is
 * packed as a google.protobuf.Any once (packResource) and each response only
 * copies those bytes between its own few small fields.
 * Field numbers come from the official descriptors, so they cannot drift from
 * the protos; test/sds/encode.test.ts checks the bytes against protobufjs.
 */

/**
 * Tag of a length-delimited field (wire type 2) of `type`, from its descriptor; the field
 * name is checked at build time against the message's generated shape.
 */
function tagOf<Message>(type: protobuf.Type, field: keyof Message & string): number {
  const found = type.fields[field];
  if (!found) throw new Error(`${type.fullName} has no field ${field}`);
  return (found.id << 3) | 2;
}

function buildTags() {
  const { DiscoveryResponse: DiscoveryResponseType, DeltaDiscoveryResponse: DeltaDiscoveryResponseType, root } = sdsProtos();
  const ResourceType = root.lookupType('envoy.service.discovery.v3.Resource');
  const AnyType = root.lookupType('google.protobuf.Any');
  return Object.freeze({
    sotw: {
      versionInfo: tagOf<DiscoveryResponse>(DiscoveryResponseType, 'version_info'),
      resources: tagOf<DiscoveryResponse>(DiscoveryResponseType, 'resources'),
      typeUrl: tagOf<DiscoveryResponse>(DiscoveryResponseType, 'type_url'),
      nonce: tagOf<DiscoveryResponse>(DiscoveryResponseType, 'nonce'),
    },
    delta: {
      systemVersionInfo: tagOf<DeltaDiscoveryResponse>(DeltaDiscoveryResponseType, 'system_version_info'),
      resources: tagOf<DeltaDiscoveryResponse>(DeltaDiscoveryResponseType, 'resources'),
      typeUrl: tagOf<DeltaDiscoveryResponse>(DeltaDiscoveryResponseType, 'type_url'),
      removedResources: tagOf<DeltaDiscoveryResponse>(DeltaDiscoveryResponseType, 'removed_resources'),
      nonce: tagOf<DeltaDiscoveryResponse>(DeltaDiscoveryResponseType, 'nonce'),
    },
    resource: {
      name: tagOf<ResourceMessage>(ResourceType, 'name'),
      version: tagOf<ResourceMessage>(ResourceType, 'version'),
      resource: tagOf<ResourceMessage>(ResourceType, 'resource'),
    },
    any: { typeUrl: tagOf<Any>(AnyType, 'type_url'), value: tagOf<Any>(AnyType, 'value') },
  });
}

let builtTags: ReturnType<typeof buildTags> | undefined;
/** Built on first use, like sdsProtos(): importing this module parses nothing. */
const tags = () => (builtTags ??= buildTags());

type Field = readonly [tag: number, value: Uint8Array | string];

function varintLength(n: number): number {
  let length = 1;
  while (n > 0x7f) {
    n >>>= 7;
    length++;
  }
  return length;
}

function putVarint(out: Uint8Array, at: number, n: number): number {
  while (n > 0x7f) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}

/**
 * Length-delimited fields, in order, into one exact-size buffer: tag, varint
 * length, bytes (strings as UTF-8). Empty values are left out, as proto3 leaves
 * out defaults (no repeated field written here ever holds an empty element).
 */
function encodeFields(fields: readonly Field[], allocate: (size: number) => Buffer = Buffer.allocUnsafe): Buffer {
  const present = fields.filter(([, value]) => value.length > 0);
  const lengths = present.map(([, value]) => (typeof value === 'string' ? Buffer.byteLength(value) : value.length));
  let size = 0;
  present.forEach(([tag], i) => (size += varintLength(tag) + varintLength(lengths[i]!) + lengths[i]!));
  const out = allocate(size);
  let at = 0;
  present.forEach(([tag, value], i) => {
    at = putVarint(out, at, tag);
    at = putVarint(out, at, lengths[i]!);
    if (typeof value === 'string') out.write(value, at);
    else out.set(value, at);
    at += lengths[i]!;
  });
  return out;
}

/**
 * Packs a resource once as a google.protobuf.Any; every response that carries it
 * copies these bytes. One exact-size allocation outside Node's shared 8 KiB Buffer
 * pool (a small pooled slice would pin a whole slab for as long as the certificate
 * lives, and there are thousands), with `value` a view into it.
 */
export function packResource(name: string, version: string, typeUrl: string, value: Uint8Array): Resource {
  const { any: tag } = tags();
  const any = encodeFields([[tag.typeUrl, typeUrl], [tag.value, value]], Buffer.allocUnsafeSlow);
  return Object.freeze({ name, version, typeUrl, value: any.subarray(any.length - value.length), any });
}

export function encodeSotwResponse(response: SotwResponse): Buffer {
  const { sotw } = tags();
  return encodeFields([
    [sotw.versionInfo, response.versionInfo],
    ...response.resources.map((resource): Field => [sotw.resources, resource.any]),
    [sotw.typeUrl, secretTypeUrl],
    [sotw.nonce, response.nonce],
  ]);
}

export function encodeDeltaResponse(response: DeltaResponse): Buffer {
  const { delta, resource: r } = tags();
  return encodeFields([
    [delta.systemVersionInfo, response.systemVersionInfo],
    ...response.resources.map((resource): Field => [
      delta.resources,
      encodeFields([[r.name, resource.name], [r.version, resource.version], [r.resource, resource.any]]),
    ]),
    [delta.typeUrl, secretTypeUrl],
    ...response.removed.map((name): Field => [delta.removedResources, name]),
    [delta.nonce, response.nonce],
  ]);
}

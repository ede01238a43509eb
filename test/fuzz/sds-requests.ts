/**
 * Generators of SDS requests for the fuzz suite: protobuf-shaped objects with
 * hostile values (encoded with the server's own protos), raw bytes, and mutated
 * encodings of real requests.
 */
import fc from 'fast-check';
import { sdsProtos, secretTypeUrl } from '../../src/sds/protos.js';
import { mutate, mutation } from './fuzz.js';

export const trustDomain = 'cluster.local';
export const ownId = `spiffe://${trustDomain}/ns/fuzz/sa/app`;

/** Names a client might ask for: served, typos, someone else's ID, reserved IDs, junk. */
export const resourceName = fc.oneof(
  { arbitrary: fc.constantFrom('default', 'ROOTCA', ownId, `spiffe://${trustDomain}`, 'defualt', `spiffe://${trustDomain}/ns/other/sa/x`, 'SPIFFE://x', `spiffe://${trustDomain}/workload-ca/sds`), weight: 30 },
  { arbitrary: fc.string({ minLength: 1, maxLength: 40 }), weight: 5 },
  { arbitrary: fc.constant(''), weight: 1 },
  { arbitrary: fc.string({ minLength: 500, maxLength: 600 }), weight: 1 },
);

const nodeId = fc.oneof(
  { arbitrary: fc.constantFrom('ns/fuzz/sa/app', 'ns/fuzz/sa/app', ownId), weight: 4 },
  fc.constantFrom('ns/fuzz/sa/app', ownId, `spiffe://${trustDomain}`, 'workload-ca/sds', 'spiffe://evil.example/x', '/', 'a//b', '..', ''),
  fc.string({ maxLength: 60 }),
);

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });

const node = fc.record(
  {
    id: nodeId,
    cluster: fc.string({ maxLength: 20 }),
    user_agent_name: fc.constantFrom('envoy', '', 'grpc'),
    user_agent_version: fc.oneof(fc.constantFrom('1.31.0', 'v1.17.2', '', 'x.y'), fc.string({ maxLength: 12 })),
    user_agent_build_version: fc.record({ version: fc.record({ major_number: uint32, minor_number: uint32, patch: uint32 }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const typeUrl = fc.oneof({ arbitrary: fc.constantFrom(secretTypeUrl, ''), weight: 12 }, { arbitrary: fc.string({ maxLength: 80 }), weight: 1 });
const nonce = fc.oneof({ arbitrary: fc.constantFrom('', '1', '2', '3', '7'), weight: 5 }, { arbitrary: fc.string({ maxLength: 20 }), weight: 1 });
const errorDetail = fc.record({ code: int32, message: fc.string({ maxLength: 2000 }) }, { requiredKeys: [] });

export const rawSotwRequest = fc.record(
  {
    version_info: fc.oneof(fc.constantFrom('', 'v1'), fc.string({ maxLength: 20 })),
    node,
    resource_names: fc.array(resourceName, { maxLength: 6 }),
    type_url: typeUrl,
    response_nonce: nonce,
    error_detail: errorDetail,
  },
  { requiredKeys: [] },
);

export const rawDeltaRequest = fc.record(
  {
    node,
    type_url: typeUrl,
    resource_names_subscribe: fc.array(resourceName, { maxLength: 6 }),
    resource_names_unsubscribe: fc.array(resourceName, { maxLength: 4 }),
    initial_resource_versions: fc.dictionary(resourceName, fc.string({ maxLength: 20 }), { maxKeys: 4 }),
    response_nonce: nonce,
    error_detail: errorDetail,
  },
  { requiredKeys: [] },
);

export const encodeSotw = (raw: object) => Buffer.from(sdsProtos().DiscoveryRequest.encode(sdsProtos().DiscoveryRequest.fromObject(raw)).finish());
export const encodeDelta = (raw: object) => Buffer.from(sdsProtos().DeltaDiscoveryRequest.encode(sdsProtos().DeltaDiscoveryRequest.fromObject(raw)).finish());

/** Wire bytes for one request: a hostile but well-formed message, its mutation, or noise. */
export function requestBytes(kind: 'sotw' | 'delta'): fc.Arbitrary<Buffer> {
  const encoded = kind === 'sotw' ? rawSotwRequest.map(encodeSotw) : rawDeltaRequest.map(encodeDelta);
  return fc.oneof(
    { arbitrary: encoded, weight: 8 },
    { arbitrary: fc.tuple(encoded, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([bytes, m]) => mutate(bytes, m)), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)), weight: 1 },
  );
}

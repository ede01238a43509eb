import { WcaError } from '../errors.js';
import { limits } from '../limits.js';
import { sdsProtos, secretTypeUrl } from './protos.js';
import type { DeltaDiscoveryRequest } from '../generated/proto/envoy/service/discovery/v3/DeltaDiscoveryRequest.js';
import type { DiscoveryRequest } from '../generated/proto/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { Node } from '../generated/proto/envoy/config/core/v3/Node.js';
import type { Status } from '../generated/proto/google/rpc/Status.js';
import type { DeltaRequest, EnvoyVersion, ErrorDetail, NodeInfo, SotwRequest } from './types.js';

/**
 * The wire edge, inbound: protobuf bytes in, validated plain values out (responses
 * go out through encode.ts). A request that cannot be decoded or breaks a limit
 * becomes a MalformedRequest, which the stream answers with INVALID_ARGUMENT
 * instead of a generic INTERNAL.
 */
export class MalformedRequest {
  constructor(readonly error: WcaError) {}
}

const errorDetailMaxChars = 1024;

function bad(message: string, details: Record<string, unknown> = {}): WcaError {
  return new WcaError('ERR_SDS_BAD_REQUEST', message, { details });
}

function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

function checkTypeUrl(typeUrl: string): void {
  // Empty is accepted: the service only serves secrets, and simple clients omit it.
  if (typeUrl !== '' && typeUrl !== secretTypeUrl) {
    throw bad(`type_url ${quote(typeUrl)} is not served here (expected ${secretTypeUrl})`, { field: 'type_url' });
  }
}

/** A UTF-16 unit is at most 3 UTF-8 bytes, so only long strings need counting (every request checks its names). */
function longerThan(text: string, maxBytes: number): boolean {
  return text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes;
}

/** Checks count and size of a list of resource names and removes duplicates. */
function checkNames(names: readonly string[], field: string): readonly string[] {
  if (names.length > limits.sdsResourceNamesMax) {
    throw bad(`${field} has ${names.length} names (limit ${limits.sdsResourceNamesMax})`, { field });
  }
  names.forEach((name, i) => {
    if (name.length === 0) throw bad(`${field}[${i}] is empty`, { field: `${field}[${i}]` });
    if (longerThan(name, limits.sdsResourceNameMaxBytes)) {
      throw bad(`${field}[${i}] ${quote(name)} is longer than ${limits.sdsResourceNameMaxBytes} bytes`, {
        field: `${field}[${i}]`,
      });
    }
  });
  return names.length < 2 ? names : [...new Set(names)];
}

function envoyVersionOf(node: Node): EnvoyVersion | undefined {
  const built = node.user_agent_build_version?.version;
  if (built) return { major: built.major_number ?? 0, minor: built.minor_number ?? 0 };
  const m = /^v?(\d+)\.(\d+)/.exec(node.user_agent_version ?? '');
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** node.id and node.cluster key the caller's private key in the cache: bounded like any other name. */
function checkNodeField(value: string, field: 'id' | 'cluster'): string {
  if (longerThan(value, limits.sdsNodeFieldMaxBytes)) {
    throw bad(`node.${field} ${quote(value)} is longer than ${limits.sdsNodeFieldMaxBytes} bytes`, { field: `node.${field}` });
  }
  return value;
}

function nodeOf(node: Node | null | undefined): NodeInfo | undefined {
  if (!node) return undefined;
  const version = envoyVersionOf(node);
  const id = checkNodeField(node.id ?? '', 'id');
  const cluster = checkNodeField(node.cluster ?? '', 'cluster');
  return { id, cluster, ...(version ? { envoyVersion: version } : {}) };
}

function errorDetailOf(status: Status | null | undefined): ErrorDetail | undefined {
  if (!status) return undefined;
  return { code: status.code ?? 0, message: (status.message ?? '').slice(0, errorDetailMaxChars) };
}

function decodeWith<T>(typeName: string, decode: () => T): T | MalformedRequest {
  try {
    return decode();
  } catch (err) {
    if (err instanceof WcaError) return new MalformedRequest(err);
    return new MalformedRequest(bad(`request is not a valid ${typeName}: ${(err as Error).message}`));
  }
}

/**
 * protobufjs's decode gives message instances whose fields fit the generated permissive
 * ("input") shapes: every field optional, 64-bit integers and enums as whatever protobufjs
 * chose. Reading them through those types keeps this file in step with the protos.
 */
export function decodeSotwRequest(bytes: Uint8Array): SotwRequest | MalformedRequest {
  return decodeWith('DiscoveryRequest', () => {
    const raw = sdsProtos().DiscoveryRequest.decode(bytes) as DiscoveryRequest;
    const typeUrl = raw.type_url ?? '';
    checkTypeUrl(typeUrl);
    const node = nodeOf(raw.node);
    const errorDetail = errorDetailOf(raw.error_detail);
    return {
      kind: 'sotw',
      versionInfo: raw.version_info ?? '',
      resourceNames: checkNames(raw.resource_names ?? [], 'resource_names'),
      typeUrl,
      responseNonce: raw.response_nonce ?? '',
      ...(node ? { node } : {}),
      ...(errorDetail ? { errorDetail } : {}),
    };
  });
}

export function decodeDeltaRequest(bytes: Uint8Array): DeltaRequest | MalformedRequest {
  return decodeWith('DeltaDiscoveryRequest', () => {
    const raw = sdsProtos().DeltaDiscoveryRequest.decode(bytes) as DeltaDiscoveryRequest;
    const typeUrl = raw.type_url ?? '';
    checkTypeUrl(typeUrl);
    const initial = raw.initial_resource_versions ?? {};
    const initialNames = checkNames(Object.keys(initial), 'initial_resource_versions');
    const node = nodeOf(raw.node);
    const errorDetail = errorDetailOf(raw.error_detail);
    return {
      kind: 'delta',
      typeUrl,
      subscribe: checkNames(raw.resource_names_subscribe ?? [], 'resource_names_subscribe'),
      unsubscribe: checkNames(raw.resource_names_unsubscribe ?? [], 'resource_names_unsubscribe'),
      initialVersions: new Map(initialNames.map((name) => [name, String(initial[name])])),
      responseNonce: raw.response_nonce ?? '',
      ...(node ? { node } : {}),
      ...(errorDetail ? { errorDetail } : {}),
    };
  });
}

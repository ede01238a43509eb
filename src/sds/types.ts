import type { WcaError } from '../errors.js';

/**
 * Plain values the SDS protocol layer works with. The wire edge (messages.ts)
 * decodes and validates protobuf messages into these, so the state machines never
 * see a protobuf object, a socket, or an unchecked field.
 */

export interface EnvoyVersion {
  major: number;
  minor: number;
}

export interface NodeInfo {
  id: string;
  cluster: string;
  /** From user_agent_build_version, or parsed from user_agent_version; absent when unknown. */
  envoyVersion?: EnvoyVersion;
}

export interface ErrorDetail {
  code: number;
  message: string;
}

export interface SotwRequest {
  kind: 'sotw';
  versionInfo: string;
  node?: NodeInfo;
  resourceNames: readonly string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail?: ErrorDetail;
}

export interface DeltaRequest {
  kind: 'delta';
  node?: NodeInfo;
  typeUrl: string;
  subscribe: readonly string[];
  unsubscribe: readonly string[];
  initialVersions: ReadonlyMap<string, string>;
  responseNonce: string;
  errorDetail?: ErrorDetail;
}

/** One named resource, already packed as a google.protobuf.Any (see encode.ts packResource). */
export interface Resource {
  readonly name: string;
  readonly version: string;
  readonly typeUrl: string;
  /** The encoded resource message; a view into `any`. */
  readonly value: Uint8Array;
  /** google.protobuf.Any { type_url, value }, encoded. */
  readonly any: Uint8Array;
}

export interface SotwResponse {
  versionInfo: string;
  resources: readonly Resource[];
  nonce: string;
}

export interface DeltaResponse {
  systemVersionInfo: string;
  resources: readonly Resource[];
  removed: readonly string[];
  nonce: string;
}

/**
 * What one authenticated stream may see. check() throws a WcaError naming the
 * resource when the caller may not have it (someone else's SPIFFE ID); it returns
 * the reason a name will never exist here (a typo such as "defualt"), or undefined
 * for a name this server serves. watch() takes served names only and delivers the
 * current value (synchronously when known) and every later change until cancelled.
 */
export interface ResourceSource {
  check(name: string): WcaError | undefined;
  watch(name: string, onChange: (resource: Resource) => void): () => void;
}

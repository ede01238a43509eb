import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageRoot } from '../package-root.js';

const PROTO = 'protos/workload_ca/admin/v1/admin.proto';
/** Trailing metadata key carrying our error code, so the CLI can exit with the right status. */
export const ERROR_CODE_KEY = 'wca-error-code';
/** Trailing metadata key carrying the error's typed `details.reason`, when it has one. */
export const ERROR_REASON_KEY = 'wca-error-reason';

export interface CreateJoinTokenRequest {
  spiffe_id: string;
  dns_names: string[];
  ttl_seconds: number;
}

export interface CreateJoinTokenResponse {
  token: string;
  token_id: string;
  spiffe_id: string;
  dns_names: string[];
  expires_at: string;
}

export interface EvictIdentityRequest {
  spiffe_id: string;
}

export interface EvictIdentityResponse {
  spiffe_id: string;
  evicted_at: string;
  expires_at: string;
  streams_ended: number;
}

let service: grpc.ServiceClientConstructor | undefined;

/** The workload_ca.admin.v1.Admin service definition (client constructor with `.service`). */
export function adminService(): grpc.ServiceClientConstructor {
  if (service) return service;
  const definition = protoLoader.loadSync(path.join(packageRoot, PROTO), { keepCase: true, defaults: true, arrays: true, longs: String });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    workload_ca: { admin: { v1: { Admin: grpc.ServiceClientConstructor } } };
  };
  service = pkg.workload_ca.admin.v1.Admin;
  return service;
}

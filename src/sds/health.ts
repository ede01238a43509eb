import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { grpcStatusOf, publicMessageOf, WcaError, type ReasonOf } from '../errors.js';
import { limits } from '../limits.js';
import { packageRoot } from '../package-root.js';
import { addressGroup } from './admission.js';
import { MalformedRequest } from './messages.js';
import { sdsServiceName } from './protos.js';
import { serverMethod } from './service.js';
import type { HealthCheckRequest } from '../generated/proto/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse } from '../generated/proto/grpc/health/v1/HealthCheckResponse.js';
import type { HealthListResponse } from '../generated/proto/grpc/health/v1/HealthListResponse.js';

/**
 * grpc.health.v1.Health on the SDS listener, for Kubernetes gRPC probes and Envoy
 * health checks. Neither sends a credential, so nothing here authenticates, and
 * nothing here reveals more than SERVING or NOT_SERVING. The service names are ""
 * (the whole server) and the SDS service; both follow readiness.
 */

export interface HealthStatusSource {
  serving(): boolean;
  /** Calls notify now and on every change; returns the cancel function. */
  watch(notify: (serving: boolean) => void): () => void;
}

/** HealthCheckResponse.ServingStatus numbers. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export const healthServiceName = 'grpc.health.v1.Health';
const knownServices: ReadonlySet<string> = new Set(['', sdsServiceName]);

let types: { request: protobuf.Type; response: protobuf.Type; listResponse: protobuf.Type } | undefined;

/** The protobufjs types of health.proto, loaded once. */
export function healthTypes() {
  if (types) return types;
  const root = new protobuf.Root();
  root.loadSync(path.join(packageRoot, 'protos/grpc-health/grpc/health/v1/health.proto'), { keepCase: true });
  types = {
    request: root.lookupType('grpc.health.v1.HealthCheckRequest'),
    response: root.lookupType('grpc.health.v1.HealthCheckResponse'),
    listResponse: root.lookupType('grpc.health.v1.HealthListResponse'),
  };
  return types;
}

interface CheckRequest {
  service: string;
}

function decodeRequest(bytes: Uint8Array): CheckRequest | MalformedRequest {
  try {
    const message = healthTypes().request.decode(bytes) as HealthCheckRequest;
    return { service: message.service ?? '' };
  } catch {
    return new MalformedRequest(new WcaError('ERR_SDS_BAD_REQUEST', 'HealthCheckRequest does not decode'));
  }
}

// List's empty request decodes as a request for "": its content is ignored.
const method = <Res>(name: string, responseStream: boolean, encode: (response: Res) => Buffer) =>
  serverMethod<CheckRequest, Res>(`/${healthServiceName}/${name}`, { request: false, response: responseStream }, decodeRequest, encode);

const encodeStatus = (r: HealthCheckResponse) => Buffer.from(healthTypes().response.encode(r).finish());
const encodeList = (r: HealthListResponse) => Buffer.from(healthTypes().listResponse.encode(r).finish());

export const healthServiceDefinition: ServiceDefinition = {
  Check: method<HealthCheckResponse>('Check', false, encodeStatus),
  Watch: method<HealthCheckResponse>('Watch', true, encodeStatus),
  List: method<HealthListResponse>('List', false, encodeList),
};

/** Open Watch streams, in all and per peer address group: their own small budget (limits.healthWatchStreams*). */
export class WatchBudget {
  private total = 0;
  private readonly perGroup = new Map<string, number>();

  constructor(
    private readonly max: number = limits.healthWatchStreamsMax,
    private readonly perAddress: number = limits.healthWatchStreamsPerAddress,
  ) {}

  /** Takes a slot for the group or throws ERR_HEALTH_WATCH_LIMIT naming the limit; returns the release function (idempotent). */
  take(group: string): () => void {
    const held = this.perGroup.get(group) ?? 0;
    if (held >= this.perAddress) throw limitError('watch-streams-per-address', 'healthWatchStreamsPerAddress', this.perAddress, 'from one address');
    if (this.total >= this.max) throw limitError('watch-streams', 'healthWatchStreamsMax', this.max, 'in all');
    this.total++;
    this.perGroup.set(group, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perGroup.get(group) ?? 1) - 1;
      if (left === 0) this.perGroup.delete(group);
      else this.perGroup.set(group, left);
    };
  }
}

function limitError(reason: ReasonOf<'ERR_HEALTH_WATCH_LIMIT'>, name: string, value: number, scope: string): WcaError<'ERR_HEALTH_WATCH_LIMIT'> {
  return new WcaError('ERR_HEALTH_WATCH_LIMIT', `too many health Watch streams ${scope} (limit ${name} = ${value}); use Check or close a Watch`, {
    details: { reason, limit: name, value },
  });
}

const statusOf = (serving: boolean) => (serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);

/** Something close() must end: an open Watch stream. */
export interface HealthWatches {
  /** Ends every open Watch with the status; later Watches are refused with it. */
  endAll(status: number, message: string): void;
}

export function healthHandlers(source: HealthStatusSource, budget = new WatchBudget()): { handlers: grpc.UntypedServiceImplementation; watches: HealthWatches } {
  const open = new Set<(status: number, message: string) => void>();
  let ended: { status: number; message: string } | undefined;
  const handlers: grpc.UntypedServiceImplementation = {
    Check: (call: grpc.ServerUnaryCall<CheckRequest | MalformedRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) => {
      const request = call.request;
      if (request instanceof MalformedRequest) return callback({ code: grpcStatusOf(request.error), details: publicMessageOf(request.error) });
      if (!knownServices.has(request.service)) {
        const err = new WcaError('ERR_HEALTH_UNKNOWN_SERVICE', 'unknown service; this server reports "" and the SDS service');
        return callback({ code: grpcStatusOf(err), details: publicMessageOf(err) });
      }
      callback(null, { status: statusOf(source.serving()) });
    },
    List: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<HealthListResponse>) => {
      const status = statusOf(source.serving());
      callback(null, { statuses: Object.fromEntries([...knownServices].map((name) => [name, { status }])) });
    },
    Watch: (call: grpc.ServerWritableStream<CheckRequest | MalformedRequest, HealthCheckResponse>) => {
      const request = call.request;
      const refuse = (code: number, details: string) => call.emit('error', { code, details });
      if (request instanceof MalformedRequest) return refuse(grpcStatusOf(request.error), publicMessageOf(request.error));
      if (ended) return refuse(ended.status, ended.message);
      let release: () => void;
      try {
        release = budget.take(addressGroup(call.getPeer()));
      } catch (err) {
        return refuse(grpcStatusOf(err), publicMessageOf(err));
      }
      // The spec: an unknown service gets SERVICE_UNKNOWN and the stream stays open.
      const known = knownServices.has(request.service);
      let cancelWatch = () => undefined as void;
      const finish = (status?: number, message?: string) => {
        if (!open.delete(end)) return;
        cancelWatch();
        release();
        if (status !== undefined) refuse(status, message ?? '');
      };
      const end = (status: number, message: string) => finish(status, message);
      open.add(end);
      call.once('cancelled', () => finish());
      call.once('close', () => finish());
      if (known) cancelWatch = source.watch((serving) => call.write({ status: statusOf(serving) }));
      else call.write({ status: ServingStatus.SERVICE_UNKNOWN });
    },
  };
  return {
    handlers,
    watches: {
      endAll(status, message) {
        ended = { status, message };
        for (const end of [...open]) end(status, message);
      },
    },
  };
}

import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { grpcStatusOf, publicMessageOf, WcaError, type ReasonOf } from '../errors.js';
import { limits } from '../limits.js';
import { packageRoot } from '../package-root.js';
import { addressGroup } from '../net/address-group.js';
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

// Every method is registered as a bidirectional stream, whatever its proto says: grpc-js
// calls a unary or server-streaming handler only once the request message has arrived,
// and waits for it without end, so a caller sending headers alone would hold memory
// outside every budget. As a stream, the handler runs at the headers: it takes a budget
// slot there and gives the request message its deadline. The wire format is the same,
// so unary and server-streaming clients see no difference.
// List's empty request decodes as a request for "": its content is ignored.
const method = <Res>(name: string, encode: (response: Res) => Buffer) =>
  serverMethod<CheckRequest, Res>(`/${healthServiceName}/${name}`, { request: true, response: true }, decodeRequest, encode);

const encodeStatus = (r: HealthCheckResponse) => Buffer.from(healthTypes().response.encode(r).finish());
const encodeList = (r: HealthListResponse) => Buffer.from(healthTypes().listResponse.encode(r).finish());

export const healthServiceDefinition: ServiceDefinition = {
  Check: method<HealthCheckResponse>('Check', encodeStatus),
  Watch: method<HealthCheckResponse>('Watch', encodeStatus),
  List: method<HealthListResponse>('List', encodeList),
};

/**
 * Open health calls (Check, List, Watch), in all and per peer address group: their own
 * small budget (limits.healthCalls*), since none of them carries a credential.
 */
export class HealthBudget {
  private total = 0;
  private readonly perGroup = new Map<string, number>();

  constructor(
    private readonly max: number = limits.healthCallsMax,
    private readonly perAddress: number = limits.healthCallsPerAddress,
  ) {}

  /** Takes a slot for the group or throws ERR_HEALTH_LIMIT naming the limit; returns the release function (idempotent). */
  take(group: string): () => void {
    const held = this.perGroup.get(group) ?? 0;
    if (held >= this.perAddress) throw limitError('calls-per-address', 'healthCallsPerAddress', this.perAddress, 'from one address');
    if (this.total >= this.max) throw limitError('calls', 'healthCallsMax', this.max, 'in all');
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

function limitError(reason: ReasonOf<'ERR_HEALTH_LIMIT'>, name: string, value: number, scope: string): WcaError<'ERR_HEALTH_LIMIT'> {
  return new WcaError('ERR_HEALTH_LIMIT', `too many open health calls ${scope} (limit ${name} = ${value}); close Watches you no longer read`, {
    details: { reason, limit: name, value },
  });
}

const statusOf = (serving: boolean) => (serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);

/** Something close() must end: every open health call. */
export interface HealthCalls {
  /** Ends every open call with the status; later calls are refused with it. */
  endAll(status: number, message: string): void;
}

export interface HealthOptions {
  /** How long a call may wait for its request message (sds.firstRequestTimeout) before DEADLINE_EXCEEDED. */
  firstRequestTimeoutMs: number;
  budget?: HealthBudget;
}

type HealthCall = grpc.ServerDuplexStream<CheckRequest | MalformedRequest, HealthCheckResponse | HealthListResponse>;
/** Answers a decoded request; `finish` ends the call (with a status: as an error); returns what to cancel when the call ends. */
type Answer = (call: HealthCall, request: CheckRequest, finish: (status?: number, message?: string) => void) => (() => void) | void;

const errorStatus = (err: unknown): [number, string] => [grpcStatusOf(err), publicMessageOf(err)];

export function healthHandlers(source: HealthStatusSource, options: HealthOptions): { handlers: grpc.UntypedServiceImplementation; calls: HealthCalls } {
  const budget = options.budget ?? new HealthBudget();
  const open = new Set<(status: number, message: string) => void>();
  let ended: { status: number; message: string } | undefined;

  const serve = (answer: Answer) => (call: HealthCall) => {
    const refuse = (code: number, details: string) => call.emit('error', { code, details });
    if (ended) return refuse(ended.status, ended.message);
    let release: () => void;
    try {
      release = budget.take(addressGroup(call.getPeer()));
    } catch (err) {
      return refuse(...errorStatus(err));
    }
    let cancel: () => void = () => undefined;
    const finish = (status?: number, message?: string) => {
      if (!open.delete(end)) return;
      clearTimeout(deadline);
      cancel();
      release();
      if (status !== undefined) refuse(status, message ?? '');
    };
    const end = (status: number, message: string) => finish(status, message);
    open.add(end);
    const deadline = setTimeout(() => {
      const seconds = options.firstRequestTimeoutMs / 1000;
      finish(...errorStatus(new WcaError('ERR_SDS_FIRST_REQUEST_TIMEOUT', `no health request within ${seconds}s of opening the call (sds.firstRequestTimeout)`)));
    }, options.firstRequestTimeoutMs);
    let received = false;
    call.once('cancelled', () => finish());
    call.once('close', () => finish());
    call.once('end', () => {
      if (!received) finish(...errorStatus(new WcaError('ERR_SDS_BAD_REQUEST', 'the health call ended without a request message')));
    });
    // Only the first message counts, as for a unary call; later ones are read and dropped.
    call.once('data', (request: CheckRequest | MalformedRequest) => {
      received = true;
      clearTimeout(deadline);
      if (request instanceof MalformedRequest) return finish(...errorStatus(request.error));
      cancel = answer(call, request, finish) ?? cancel;
    });
  };

  const unknownService = () => errorStatus(new WcaError('ERR_HEALTH_UNKNOWN_SERVICE', 'unknown service; this server reports "" and the SDS service'));
  const reply = (call: HealthCall, response: HealthCheckResponse | HealthListResponse, finish: () => void) => {
    finish();
    call.write(response);
    call.end();
  };
  const handlers: grpc.UntypedServiceImplementation = {
    Check: serve((call, request, finish) => {
      if (!knownServices.has(request.service)) return finish(...unknownService());
      reply(call, { status: statusOf(source.serving()) }, finish);
    }),
    List: serve((call, _request, finish) => {
      const status = statusOf(source.serving());
      reply(call, { statuses: Object.fromEntries([...knownServices].map((name) => [name, { status }])) }, finish);
    }),
    // The spec: an unknown service gets SERVICE_UNKNOWN and the stream stays open.
    Watch: serve((call, request) => {
      if (!knownServices.has(request.service)) {
        call.write({ status: ServingStatus.SERVICE_UNKNOWN });
        return;
      }
      return source.watch((serving) => call.write({ status: statusOf(serving) }));
    }),
  };
  return {
    handlers,
    calls: {
      endAll(status, message) {
        ended = { status, message };
        for (const end of [...open]) end(status, message);
      },
    },
  };
}

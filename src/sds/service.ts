import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { encodeDeltaResponse, encodeSotwResponse } from './encode.js';
import { decodeDeltaRequest, decodeSotwRequest, MalformedRequest } from './messages.js';
import { sdsServiceName } from './protos.js';
import type { DeltaRequest, DeltaResponse, SotwRequest, SotwResponse } from './types.js';

/**
 * A server-side method definition with our own (de)serializers: a request that
 * fails to decode arrives as a MalformedRequest so the handler can answer
 * INVALID_ARGUMENT, instead of grpc-js ending the call with INTERNAL.
 */
export function serverMethod<Req, Res>(
  path: string,
  streams: { request: boolean; response: boolean },
  decode: (bytes: Uint8Array) => Req | MalformedRequest,
  encode: (response: Res) => Buffer,
): MethodDefinition<Req | MalformedRequest, Res> {
  return {
    path,
    requestStream: streams.request,
    responseStream: streams.response,
    requestSerialize: () => {
      throw new Error('server-side definition: requests are never serialized here');
    },
    requestDeserialize: (bytes: Buffer) => decode(bytes),
    responseSerialize: encode,
    responseDeserialize: () => {
      throw new Error('server-side definition: responses are never deserialized here');
    },
  };
}

/** envoy.service.secret.v3.SecretDiscoveryService. */
function method<Req, Res>(
  name: string,
  streams: boolean,
  decode: (bytes: Uint8Array) => Req | MalformedRequest,
  encode: (response: Res) => Buffer,
): MethodDefinition<Req | MalformedRequest, Res> {
  return serverMethod(`/${sdsServiceName}/${name}`, { request: streams, response: streams }, decode, encode);
}

export const sdsServiceDefinition: ServiceDefinition = {
  StreamSecrets: method<SotwRequest, SotwResponse>('StreamSecrets', true, decodeSotwRequest, encodeSotwResponse),
  DeltaSecrets: method<DeltaRequest, DeltaResponse>('DeltaSecrets', true, decodeDeltaRequest, encodeDeltaResponse),
  FetchSecrets: method<SotwRequest, SotwResponse>('FetchSecrets', false, decodeSotwRequest, encodeSotwResponse),
};

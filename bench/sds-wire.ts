/**
 * The SDS wire as the benchmark clients speak it over node:http2 directly (a grpc-js
 * client spends more CPU per call than the server under test): 5-byte gRPC framing,
 * the official Envoy protos for the bytes, and the check every response passes before
 * it counts.
 */
import type http2 from 'node:http2';
import { loadEnvoyProtos, secretTypeUrl } from '../src/sds/protos.js';
import { pemBlocks } from '../src/x509/der.js';

export { secretTypeUrl };
export const streamPath = '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets';

const root = loadEnvoyProtos(['envoy/service/secret/v3/sds.proto', 'envoy/extensions/transport_sockets/tls/v3/secret.proto']);
const DiscoveryRequest = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const DiscoveryResponse = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const Secret = root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');

interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}
export interface WireResponse {
  version_info: string;
  nonce: string;
  resources: AnyMessage[];
}
interface SecretMessage {
  name: string;
  tls_certificate?: { certificate_chain?: { inline_bytes?: Uint8Array }; private_key?: { inline_bytes?: Uint8Array } };
  validation_context?: { trusted_ca?: { inline_bytes?: Uint8Array } };
}

export function frame(message: object): Buffer {
  const body = DiscoveryRequest.encode(message).finish();
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

/** Calls `onMessage` with each DiscoveryResponse the stream delivers, however the bytes are split. */
export function parseMessages(stream: http2.ClientHttp2Stream, onMessage: (response: WireResponse) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      const response = DiscoveryResponse.decode(pending.subarray(5, 5 + length)) as unknown as WireResponse;
      pending = pending.subarray(5 + length);
      onMessage(response);
    }
  });
}

/** The DER of the first PEM certificate in a chain. */
function leafDer(chainPem: string): Buffer {
  const begin = '-----BEGIN CERTIFICATE-----';
  const start = chainPem.indexOf(begin);
  const end = chainPem.indexOf('-----END CERTIFICATE-----');
  if (start !== 0 || end < 0) throw new Error('certificate_chain does not start with a PEM certificate');
  return Buffer.from(chainPem.slice(start + begin.length, end), 'base64');
}

/** Throws unless the response carries exactly the secret `name` should hold for `spiffeId`. */
export function check(response: WireResponse, name: string, spiffeId: Buffer): void {
  if (response.nonce === '' || response.version_info === '') throw new Error('response without nonce or version_info');
  if (response.resources.length !== 1) throw new Error(`${response.resources.length} resources for ${name}`);
  const any = response.resources[0]!;
  if (any.type_url !== secretTypeUrl) throw new Error(`type_url ${any.type_url}`);
  const secret = Secret.decode(any.value) as unknown as SecretMessage;
  if (secret.name !== name) throw new Error(`asked for ${name}, got ${secret.name}`);
  if (name === 'ROOTCA') {
    const ca = Buffer.from(secret.validation_context?.trusted_ca?.inline_bytes ?? []).toString();
    if (!ca.startsWith('-----BEGIN CERTIFICATE-----')) throw new Error('ROOTCA without a trusted CA');
    return;
  }
  const chain = Buffer.from(secret.tls_certificate?.certificate_chain?.inline_bytes ?? []).toString();
  const key = Buffer.from(secret.tls_certificate?.private_key?.inline_bytes ?? []).toString();
  if (pemBlocks(key, 'PRIVATE KEY').length !== 1) throw new Error('default without a PKCS#8 key');
  // The leaf's URI SAN holds the SPIFFE ID verbatim: a certificate for another node cannot pass.
  if (!leafDer(chain).includes(spiffeId)) throw new Error(`default for ${spiffeId} names someone else`);
}


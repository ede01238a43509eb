import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { loadEnvoyProtos, envoyProtoIncludeDirs } from '../../src/sds/protos.js';

/**
 * A test client built independently of the server's codec: @grpc/proto-loader on
 * the official Envoy protos (the server uses its own protobufjs service
 * definition), so wire agreement is checked, not assumed.
 */
const packageDefinition = protoLoader.loadSync('envoy/service/secret/v3/sds.proto', {
  includeDirs: [...envoyProtoIncludeDirs],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  envoy: { service: { secret: { v3: { SecretDiscoveryService: grpc.ServiceClientConstructor } } } };
};
export const SdsClient = loaded.envoy.service.secret.v3.SecretDiscoveryService;

const decoderRoot = loadEnvoyProtos([
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls_spiffe_validator_config.proto',
]);
const SecretType = decoderRoot.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');
const SpiffeConfigType = decoderRoot.lookupType('envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig');

export const secretTypeUrl = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

export interface AnyMsg {
  type_url: string;
  value: Buffer;
}

export interface DecodedSecret {
  name: string;
  certificateChain?: string;
  privateKey?: string;
  trustedCa?: string;
  spiffeTrustDomains?: { name: string; bundle: string }[];
}

/** Unpacks a google.protobuf.Any holding an envoy Secret into readable fields. */
export function decodeSecret(any: AnyMsg): DecodedSecret {
  if (any.type_url !== secretTypeUrl) throw new Error(`unexpected type_url ${any.type_url}`);
  const s = SecretType.toObject(SecretType.decode(any.value), { bytes: String, defaults: false }) as any;
  const text = (b64?: string) => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString());
  const out: DecodedSecret = { name: s.name };
  if (s.tls_certificate) {
    out.certificateChain = text(s.tls_certificate.certificate_chain?.inline_bytes);
    out.privateKey = text(s.tls_certificate.private_key?.inline_bytes);
  }
  const vc = s.validation_context;
  if (vc?.trusted_ca) out.trustedCa = text(vc.trusted_ca.inline_bytes);
  if (vc?.custom_validator_config) {
    const cfg = vc.custom_validator_config;
    if (cfg.name !== 'envoy.tls.cert_validator.spiffe') throw new Error(`unexpected validator ${cfg.name}`);
    const typed = cfg.typed_config;
    const decoded = SpiffeConfigType.toObject(SpiffeConfigType.decode(Buffer.from(typed.value, 'base64')), { bytes: String }) as any;
    out.spiffeTrustDomains = decoded.trust_domains.map((td: any) => ({ name: td.name, bundle: text(td.trust_bundle.inline_bytes)! }));
  }
  return out;
}

export function connect(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): grpc.Client {
  return new SdsClient(address, credentials, options);
}

/** A bidi stream with an awaitable inbox, and the final status as a promise. */
export class XdsStream<Res = any> {
  private readonly inbox: Res[] = [];
  private waiter?: (r: Res) => void;
  readonly status: Promise<grpc.StatusObject & { error?: grpc.ServiceError }>;

  constructor(readonly call: grpc.ClientDuplexStream<any, Res>) {
    call.on('data', (msg: Res) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w(msg);
      else this.inbox.push(msg);
    });
    this.status = new Promise((resolve) => {
      call.on('error', (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details, metadata: error.metadata, error }));
      call.on('status', (s: grpc.StatusObject) => {
        if (s.code === grpc.status.OK) resolve(s);
      });
    });
  }

  static sotw(client: grpc.Client, metadata = new grpc.Metadata()): XdsStream {
    return new XdsStream((client as any).StreamSecrets(metadata));
  }

  static delta(client: grpc.Client): XdsStream {
    return new XdsStream((client as any).DeltaSecrets());
  }

  send(request: Record<string, unknown>): void {
    this.call.write(request);
  }

  /** The next response; fails the test if the stream ends first. */
  next(): Promise<Res> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return Promise.race([
      new Promise<Res>((resolve) => (this.waiter = resolve)),
      this.status.then((s) => {
        throw new Error(`stream ended (code ${s.code}: ${s.details}) while waiting for a response`);
      }),
    ]);
  }

  get pending(): number {
    return this.inbox.length;
  }

  cancel(): void {
    this.call.cancel();
  }
}

export function envoyNode(id: string, version?: [number, number]) {
  return {
    id,
    cluster: 'test-cluster',
    user_agent_name: 'envoy',
    ...(version ? { user_agent_build_version: { version: { major_number: version[0], minor_number: version[1], patch: 0 } } } : {}),
  };
}

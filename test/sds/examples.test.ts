import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envoyBanner } from '../../src/cli/envoy-banner.js';
import { readBearer } from '../../src/identity/jwt/bearer.js';
import { loadBootstrap } from '../helpers/full-envoy-api.js';

const dir = path.resolve(import.meta.dirname, '../../examples/envoy');
const examples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

/** sds-dev.yaml's placeholders, filled as the line `serve` prints fills them. */
const fillPlaceholders = (text: string) => text.replace(/WCA_SDS_HOST/g, '127.0.0.1').replace(/WCA_SDS_PORT/g, '8234');
const load = (text: string) => loadBootstrap(fillPlaceholders(text));

/** Where the bootstrap's workload_ca_sds cluster dials. */
const sdsEndpoint = (bootstrap: any) =>
  bootstrap.static_resources.clusters.find((c: any) => c.name === 'workload_ca_sds').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;

/** Every SDS secret config in the bootstrap, wherever it sits. */
function sdsNames(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => sdsNames(n, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'tls_certificate_sds_secret_configs') out.push(...(value as { name: string }[]).map((s) => s.name));
      else if (key === 'validation_context_sds_secret_config') out.push((value as { name: string }).name);
      else sdsNames(value, out);
    }
  }
  return out;
}

describe('examples/envoy bootstraps load into the official Bootstrap message', () => {
  it('has the five examples', () => {
    expect(examples.sort()).toEqual(['k8s-sidecar.yaml', 'sds-dev.yaml', 'sds-tls.yaml', 'sds-unix.yaml', 'vm-mtls.yaml']);
  });

  it.each(examples)('%s', (file) => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    const bootstrap = load(text);
    // The secret configs sit inside typed_config Anys, already checked above; read them from the YAML.
    const names = sdsNames(parse(text));
    expect(names).toContain('default');
    expect(names).toContain('ROOTCA');
    // envoy_grpc needs a cluster speaking HTTP/2; google_grpc (k8s-sidecar.yaml) dials target_uri itself.
    const sdsCluster = bootstrap.static_resources.clusters.find((c: any) => c.name === 'workload_ca_sds');
    if (sdsCluster) expect(sdsCluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']).toBeDefined();
    else expect(text).toContain('google_grpc:');
  });

  it.each([
    { mutate: (y: string) => y.replace('require_client_certificate', 'require_client_certifcate'), error: /unknown field "require_client_certifcate"/ },
    { mutate: (y: string) => y.replace('api_type: GRPC', 'api_type: GPRC'), error: /not a ApiType value/ },
    { mutate: (y: string) => y.replace('v3.UpstreamTlsContext', 'v3.UpstreamTLSContext'), error: /unknown @type/ },
    { mutate: (y: string) => y.replace('connect_timeout: 1s', 'connect_timeout: 1 second'), error: /duration/ },
  ])('a typo fails: $error', ({ mutate, error }) => {
    const text = mutate(readFileSync(path.join(dir, 'sds-tls.yaml'), 'utf8'));
    expect(() => load(text)).toThrow(error);
  });

  it('sds-dev.yaml hardcodes no SDS port: the placeholders stand where the address goes', () => {
    const text = readFileSync(path.join(dir, 'sds-dev.yaml'), 'utf8');
    expect(parse(text).static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: 'WCA_SDS_HOST', port_value: 'WCA_SDS_PORT' });
  });

  it("the sed line serve's banner prints makes a Bootstrap that dials the port actually bound", async () => {
    const [, sedLine] = envoyBanner('0.0.0.0:40123', dir);
    const command = sedLine!.trim().replace(/ > envoy\.yaml && envoy -c envoy\.yaml$/, '');
    expect(command).toMatch(/^sed /);
    const { stdout } = await promisify(execFile)('sh', ['-c', command]);
    expect(sdsEndpoint(loadBootstrap(stdout))).toMatchObject({ address: '127.0.0.1', port_value: 40123 });
  });

  /** The first SDS grpc_service of the bootstrap, as written in the YAML. */
  const grpcService = (file: string) => {
    const yaml = parse(readFileSync(path.join(dir, file), 'utf8'));
    return yaml.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.api_config_source.grpc_services[0];
  };

  it('k8s-sidecar.yaml sends the projected token from its file as the authorization header workload-ca reads', () => {
    const g = grpcService('k8s-sidecar.yaml').google_grpc;
    const plugin = g.call_credentials[0].from_plugin;
    expect(plugin.name).toBe('envoy.grpc_credentials.file_based_metadata');
    expect(plugin.typed_config.secret_data).toEqual({ filename: '/var/run/secrets/workload-ca/token' });
    expect(g.channel_credentials.ssl_credentials.root_certs).toEqual({ filename: '/etc/workload-ca/bundle.pem' });
    // What Envoy's FileBasedMetadataAuthenticator sends: header_key: header_prefix + the file's content.
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    const metadata = new Map([[plugin.typed_config.header_key, [`${plugin.typed_config.header_prefix}${jwt}`]]]);
    expect(readBearer(metadata)).toEqual({ kind: 'jwt', token: jwt });
  });

  it('vm-mtls.yaml presents a client certificate to the SDS server, trusts bundle.pem, and carries a join token for first contact', () => {
    const yaml = parse(readFileSync(path.join(dir, 'vm-mtls.yaml'), 'utf8'));
    const tls = yaml.static_resources.clusters.find((c: any) => c.name === 'workload_ca_sds').transport_socket.typed_config.common_tls_context;
    expect(tls.tls_certificates[0]).toMatchObject({ certificate_chain: { filename: expect.any(String) }, private_key: { filename: expect.any(String) }, watched_directory: { path: expect.any(String) } });
    expect(tls.validation_context.trusted_ca).toEqual({ filename: '/etc/workload-ca/bundle.pem' });
    const [first] = grpcService('vm-mtls.yaml').initial_metadata;
    expect(readBearer(new Map([[first.key, [first.value]]]))).toMatchObject({ kind: 'join-token' });
  });
});

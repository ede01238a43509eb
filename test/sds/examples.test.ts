import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envoyBanner } from '../../src/cli/envoy-banner.js';
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
  it('has the three examples', () => {
    expect(examples.sort()).toEqual(['sds-dev.yaml', 'sds-tls.yaml', 'sds-unix.yaml']);
  });

  it.each(examples)('%s', (file) => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    const bootstrap = load(text);
    // The secret configs sit inside typed_config Anys, already checked above; read them from the YAML.
    const names = sdsNames(parse(text));
    expect(names).toContain('default');
    expect(names).toContain('ROOTCA');
    const sdsCluster = bootstrap.static_resources.clusters.find((c: any) => c.name === 'workload_ca_sds');
    expect(sdsCluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']).toBeDefined();
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
});

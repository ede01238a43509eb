import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadBootstrap } from '../helpers/full-envoy-api.js';

const dir = path.resolve(import.meta.dirname, '../../examples/envoy');
const examples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

const load = loadBootstrap;

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
});

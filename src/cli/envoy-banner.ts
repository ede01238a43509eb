import fs from 'node:fs';
import path from 'node:path';
import { localHost, parseListenAddress } from '../net/listen-address.js';
import { packageRoot } from '../package-root.js';

/** What examples/envoy/sds-dev.yaml says where a port would be: filled by the command below. */
export const SDS_PORT_PLACEHOLDER = 'WCA_SDS_PORT';
export const SDS_HOST_PLACEHOLDER = 'WCA_SDS_HOST';

/** A path pasted into a shell: single-quoted, so spaces and `$(…)` in it stay a path. */
const shellQuoted = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * How to point Envoy at the SDS listener actually bound (`127.0.0.1:0` has become a
 * real port by now): for TCP, a `sed` line that fills the dev example's placeholders;
 * for a Unix socket, the path a `pipe` needs. `examples` is where the bootstraps are.
 */
export function envoyBanner(sdsAddress: string, examples = path.join(packageRoot, 'examples/envoy')): string[] {
  const address = parseListenAddress(sdsAddress);
  if (typeof address === 'string') return [];
  if (address.kind === 'unix') {
    return [`  envoy  give the workload_ca_sds cluster a pipe at ${address.path} (see ${path.join(examples, 'sds-unix.yaml')})`];
  }
  const example = path.join(examples, 'sds-dev.yaml');
  const where = fs.existsSync(example) ? shellQuoted(example) : 'examples/envoy/sds-dev.yaml from the workload-ca repository';
  return [
    `  envoy  point Envoy's workload_ca_sds cluster at ${localHost(address.host)}:${address.port}; with the dev example:`,
    `         sed -e 's/${SDS_HOST_PLACEHOLDER}/${localHost(address.host)}/' -e 's/${SDS_PORT_PLACEHOLDER}/${address.port}/' ${where} > envoy.yaml && envoy -c envoy.yaml`,
  ];
}

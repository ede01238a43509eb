/**
 * `workload-ca healthcheck`: asks the local server's /readyz (or /healthz), or with
 * --grpc its grpc.health.v1 service on the SDS listener, and exits 0 on 200 /
 * SERVING, 1 otherwise. For container HEALTHCHECKs and exec probes, so the image
 * needs no curl. It reads the same config, environment and flag as `serve` to find
 * the HTTP listener; a wildcard listen address is probed on loopback.
 */
import http from 'node:http';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { formatListenAddress, type ListenAddress } from '../../net/listen-address.js';
import { WcaError } from '../../errors.js';
import { durationFlag } from '../flags.js';
import { outputFormat, printData, withOutputFormat } from '../output.js';
import * as grpc from '@grpc/grpc-js';
import { checkHealth } from '../../sds/health-client.js';
import { sdsServiceName } from '../../sds/protos.js';
import { resolveSdsTransport } from '../../transport/sds-transport.js';
import type { Config } from '../../config/schema.js';

interface HealthcheckFlags {
  config?: string;
  httpListen?: string;
  sdsListen?: string;
  grpc?: boolean;
  path: '/readyz' | '/healthz';
  timeout: string;
  output: string;
}

/** A status line is all we show of the body: a few hundred bytes is plenty. */
const BODY_SHOWN = 200;

/** A wildcard listen address is asked on loopback. */
const localHost = (host: string) => (host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host);

function target(address: ListenAddress): http.RequestOptions {
  if (address.kind === 'unix') return { socketPath: address.path };
  return { host: localHost(address.host), port: address.port };
}

/**
 * grpc.health.v1 Check of the SDS service on the SDS listener, over its transport.
 * Over TLS the server's certificate is not verified: the probe has no trust bundle,
 * sends nothing, and an impostor could only make it report healthy, as anyone on the
 * port could for an HTTP probe.
 */
async function grpcProbe(config: Config, timeoutMs: number): Promise<{ address: string; status: string; line: string }> {
  const listen = config.listen.sds;
  const transport = resolveSdsTransport(config.sds.transport, config.profile, listen);
  const where = listen.kind === 'unix' ? `unix:${listen.path}` : `dns:${listen.host.includes(':') ? `[${localHost(listen.host)}]` : localHost(listen.host)}:${listen.port}`;
  const credentials =
    transport === 'tls' || transport === 'mtls'
      ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false })
      : grpc.credentials.createInsecure();
  const status = await checkHealth(where, credentials, sdsServiceName, timeoutMs);
  const address = formatListenAddress(listen);
  return { address, status, line: `grpc.health.v1 Check ${address} ${sdsServiceName}: ${status}` };
}

function probe(address: ListenAddress, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const where = `${formatListenAddress(address)}${path}`;
  return new Promise((resolve, reject) => {
    const req = http.get({ ...target(address), path, signal: AbortSignal.timeout(timeoutMs), headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < BODY_SHOWN) body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.slice(0, BODY_SHOWN).trim() }));
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const problem = err.name === 'AbortError' || err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.code ?? err.message);
      reject(new WcaError('ERR_HEALTHCHECK_FAILED', `GET ${where}: ${problem}`, { details: { address: where, problem } }));
    });
  });
}

export function registerHealthcheckCommand(program: Command): void {
  const healthcheck = program
    .command('healthcheck')
    .description("exit 0 if the local server's /readyz answers 200 (container HEALTHCHECK, no curl needed)")
    .option('-c, --config <file>', 'the YAML config `serve` uses (default: $WCA_CONFIG)')
    .option('--http-listen <addr>', 'the HTTP listener to ask, host:port or unix:/path')
    .option('--grpc', 'ask grpc.health.v1 on the SDS listener instead of HTTP /readyz')
    .option('--sds-listen <addr>', 'with --grpc: the SDS listener to ask, host:port or unix:/path')
    .addOption(new Option('--path <path>', 'what to ask').choices(['/readyz', '/healthz']).default('/readyz'))
    .option('--timeout <duration>', 'give up after', '3s');
  withOutputFormat(healthcheck).action(async (flags: HealthcheckFlags) => {
    const format = outputFormat(flags.output);
    const timeoutSeconds = durationFlag('--timeout', flags.timeout);
    const config = loadConfig({
      file: flags.config ?? (process.env.WCA_CONFIG || undefined),
      flags: { httpListen: flags.httpListen, sdsListen: flags.sdsListen },
    });
    if (flags.grpc) {
      const { address, status, line } = await grpcProbe(config, timeoutSeconds * 1000);
      const ok = status === 'SERVING';
      if (ok || format === 'json') printData(process.stdout, format, { address, service: sdsServiceName, status, ok }, () => `${line}\n`);
      if (!ok) throw new WcaError('ERR_HEALTHCHECK_FAILED', line, { details: { status } });
      return;
    }
    const { status, body } = await probe(config.listen.http, flags.path, timeoutSeconds * 1000);
    const url = `${formatListenAddress(config.listen.http)}${flags.path}`;
    const line = `GET ${url}: ${status}${body ? ` ${body.split('\n')[0]}` : ''}`;
    // JSON is printed for a failed probe too: a script reads why from stdout, and whether from the exit code.
    if (status === 200 || format === 'json') printData(process.stdout, format, { address: url, status, ok: status === 200, body }, () => `${line}\n`);
    if (status !== 200) throw new WcaError('ERR_HEALTHCHECK_FAILED', line, { details: { status } });
  });
}

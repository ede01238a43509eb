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
import { parseDurationSeconds } from '../../duration.js';
import { formatListenAddress, type ListenAddress } from '../../net/listen-address.js';
import { WcaError } from '../../errors.js';
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
async function grpcProbe(config: Config, timeoutMs: number): Promise<string> {
  const listen = config.listen.sds;
  const transport = resolveSdsTransport(config.sds.transport, config.profile, listen);
  const where = listen.kind === 'unix' ? `unix:${listen.path}` : `dns:${listen.host.includes(':') ? `[${localHost(listen.host)}]` : localHost(listen.host)}:${listen.port}`;
  const credentials =
    transport === 'tls' || transport === 'mtls'
      ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false })
      : grpc.credentials.createInsecure();
  const status = await checkHealth(where, credentials, sdsServiceName, timeoutMs);
  const line = `grpc.health.v1 Check ${formatListenAddress(listen)} ${sdsServiceName}: ${status}`;
  if (status !== 'SERVING') throw new WcaError('ERR_HEALTHCHECK_FAILED', line, { details: { status } });
  return line;
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
  program
    .command('healthcheck')
    .description("exit 0 if the local server's /readyz answers 200 (container HEALTHCHECK, no curl needed)")
    .option('-c, --config <file>', 'the YAML config `serve` uses (default: $WCA_CONFIG)')
    .option('--http-listen <addr>', 'the HTTP listener to ask, host:port or unix:/path')
    .option('--grpc', 'ask grpc.health.v1 on the SDS listener instead of HTTP /readyz')
    .option('--sds-listen <addr>', 'with --grpc: the SDS listener to ask, host:port or unix:/path')
    .addOption(new Option('--path <path>', 'what to ask').choices(['/readyz', '/healthz']).default('/readyz'))
    .option('--timeout <duration>', 'give up after', '3s')
    .action(async (flags: HealthcheckFlags) => {
      const timeoutSeconds = parseDurationSeconds(flags.timeout);
      if (timeoutSeconds === undefined || timeoutSeconds <= 0) throw new WcaError('ERR_USAGE', `--timeout "${flags.timeout}" is not a duration (e.g. 3s)`);
      const config = loadConfig({
        file: flags.config ?? (process.env.WCA_CONFIG || undefined),
        flags: { httpListen: flags.httpListen, sdsListen: flags.sdsListen },
      });
      if (flags.grpc) return void process.stdout.write(`${await grpcProbe(config, timeoutSeconds * 1000)}\n`);
      const { status, body } = await probe(config.listen.http, flags.path, timeoutSeconds * 1000);
      const line = `GET ${formatListenAddress(config.listen.http)}${flags.path}: ${status}${body ? ` ${body.split('\n')[0]}` : ''}`;
      if (status !== 200) throw new WcaError('ERR_HEALTHCHECK_FAILED', line, { details: { status } });
      process.stdout.write(`${line}\n`);
    });
}

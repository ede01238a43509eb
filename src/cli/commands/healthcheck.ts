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
import { formatListenAddress, localHost, type ListenAddress } from '../../net/listen-address.js';
import { publicMessageOf, WcaError } from '../../errors.js';
import { durationFlag } from '../flags.js';
import { limits } from '../../limits.js';
import { untrustedText } from '../../telemetry/untrusted-text.js';
import { outputFormat, printData, withOutputFormat } from '../output.js';

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

function target(address: ListenAddress): http.RequestOptions {
  if (address.kind === 'unix') return { socketPath: address.path };
  return { host: localHost(address.host), port: address.port };
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
    const timeoutSeconds = durationFlag('--timeout', flags.timeout, { min: 1, max: limits.healthcheckTimeoutMaxSeconds });
    // JSON is printed for a failed probe too: a script reads why from stdout, and whether from the exit code.
    let result: { line: string; ok: boolean; data: Record<string, unknown> };
    try {
      result = await runProbe(flags, timeoutSeconds * 1000);
    } catch (err) {
      if (format === 'json') printData(process.stdout, format, { ok: false, error: { code: err instanceof WcaError ? err.code : 'ERR_INTERNAL', message: publicMessageOf(err) } }, () => '');
      throw err;
    }
    if (result.ok || format === 'json') printData(process.stdout, format, { ...result.data, ok: result.ok }, () => `${result.line}\n`);
    if (!result.ok) throw new WcaError('ERR_HEALTHCHECK_FAILED', result.line, { details: { status: result.data.status as string | number } });
  });
}

/** Asks the server; a config, connection or timeout problem is thrown, an answer (even "not ready") returned. */
async function runProbe(flags: HealthcheckFlags, timeoutMs: number): Promise<{ line: string; ok: boolean; data: Record<string, unknown> }> {
  const config = loadConfig({
    file: flags.config ?? (process.env.WCA_CONFIG || undefined),
    flags: { httpListen: flags.httpListen, sdsListen: flags.sdsListen },
  });
  if (flags.grpc) {
    // gRPC and the protos load only for this probe: the HTTP one runs every few seconds in a container.
    const { grpcProbe } = await import('../health-grpc-probe.js');
    const { address, service, status, line } = await grpcProbe(config, timeoutMs);
    return { line, ok: status === 'SERVING', data: { address, service, status } };
  }
  const { status, body } = await probe(config.listen.http, flags.path, timeoutMs);
  const url = `${formatListenAddress(config.listen.http)}${flags.path}`;
  // Whoever holds the port wrote the body: escaped, so it cannot drive the terminal or forge a second line.
  const line = `GET ${url}: ${status}${body ? ` ${untrustedText(body.split('\n')[0]!, BODY_SHOWN)}` : ''}`;
  return { line, ok: status === 200, data: { address: url, status, body } };
}

/**
 * `workload-ca healthcheck`: asks the local server's /readyz (or /healthz) and exits
 * 0 on 200, 1 otherwise. For container HEALTHCHECKs and exec probes, so the image
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

interface HealthcheckFlags {
  config?: string;
  httpListen?: string;
  path: '/readyz' | '/healthz';
  timeout: string;
  output: string;
}

/** A status line is all we show of the body: a few hundred bytes is plenty. */
const BODY_SHOWN = 200;

function target(address: ListenAddress): http.RequestOptions {
  if (address.kind === 'unix') return { socketPath: address.path };
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return { host, port: address.port };
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
    .addOption(new Option('--path <path>', 'what to ask').choices(['/readyz', '/healthz']).default('/readyz'))
    .option('--timeout <duration>', 'give up after', '3s');
  withOutputFormat(healthcheck).action(async (flags: HealthcheckFlags) => {
    const format = outputFormat(flags.output);
    const timeoutSeconds = durationFlag('--timeout', flags.timeout);
    const config = loadConfig({ file: flags.config ?? (process.env.WCA_CONFIG || undefined), flags: { httpListen: flags.httpListen } });
    const { status, body } = await probe(config.listen.http, flags.path, timeoutSeconds * 1000);
    const url = `${formatListenAddress(config.listen.http)}${flags.path}`;
    const line = `GET ${url}: ${status}${body ? ` ${body.split('\n')[0]}` : ''}`;
    // JSON is printed for a failed probe too: a script reads why from stdout, and whether from the exit code.
    if (status === 200 || format === 'json') printData(process.stdout, format, { address: url, status, ok: status === 200, body }, () => `${line}\n`);
    if (status !== 200) throw new WcaError('ERR_HEALTHCHECK_FAILED', line, { details: { status } });
  });
}

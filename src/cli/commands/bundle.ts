import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import type { GetBundleResponse } from '../../admin/authority-proto.js';
import { WcaError } from '../../errors.js';
import { outputFormat, table, withAdmin, withOutputFormat } from '../admin-connection.js';
import { withAdminSocket, type AdminFlags, type CommandOutput } from '../admin-socket.js';

interface Flags extends AdminFlags {
  output: string;
  format?: string;
}

/**
 * The SPIFFE bundle format (SPIFFE Trust Domain and Bundle spec, section 4): a JWKS
 * whose X.509 authorities are keys with `use: "x509-svid"` and the root in `x5c`.
 */
export function spiffeBundle(b: GetBundleResponse): { keys: Record<string, unknown>[]; spiffe_sequence?: number } {
  return {
    keys: b.roots_pem.map((pem) => {
      const cert = new X509Certificate(pem);
      const jwk = cert.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
      return { use: 'x509-svid', ...jwk, x5c: [cert.raw.toString('base64')] };
    }),
  };
}

/** `workload-ca bundle show [--format pem|spiffe]`: the trust bundle as peers receive it. */
export function registerBundleCommand(program: Command, output: CommandOutput = process): void {
  const bundle = program.command('bundle').description('the trust bundle');
  const show = bundle
    .command('show')
    .description('print the trust bundle: a table of roots, or --format pem / spiffe (JWKS)')
    .option('--format <format>', 'pem or spiffe (overrides -o)');
  withOutputFormat(withAdminSocket(show)).action(async (flags: Flags) => {
    const format = flags.format;
    if (format !== undefined && format !== 'pem' && format !== 'spiffe') {
      throw new WcaError('ERR_USAGE', `--format "${format.slice(0, 32)}" is not a bundle format; use pem or spiffe`);
    }
    const o = outputFormat(flags.output);
    const b = await withAdmin(flags, (client) => client.getBundle());
    if (format === 'pem') output.stdout.write(b.roots_pem.join(''));
    else if (format === 'spiffe') output.stdout.write(`${JSON.stringify(spiffeBundle(b), null, 2)}\n`);
    else if (o === 'json') output.stdout.write(`${JSON.stringify(b, null, 2)}\n`);
    else {
      const rows = b.roots_pem.map((pem) => {
        const c = new X509Certificate(pem);
        return [c.fingerprint256, c.subject.replace(/\n/g, ', '), new Date(c.validTo).toISOString()];
      });
      output.stdout.write(`trust domain ${b.trust_domain}, bundle version ${b.version}\n` + table(['SHA-256 FINGERPRINT', 'SUBJECT', 'NOT AFTER'], rows));
    }
  });
}

import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import type { GetBundleResponse } from '../../admin/authority-proto.js';
import { withAdmin } from '../admin-connection.js';
import { flagError } from '../flags.js';
import { outputFormat, printData, table, withOutputFormat } from '../output.js';
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

function bundleTable(b: GetBundleResponse): string {
  const rows = b.roots_pem.map((pem) => {
    const c = new X509Certificate(pem);
    return [c.fingerprint256, c.subject.replace(/\n/g, ', '), new Date(c.validTo).toISOString()];
  });
  return `trust domain ${b.trust_domain}, bundle version ${b.version}\n` + table(['SHA-256 FINGERPRINT', 'SUBJECT', 'NOT AFTER'], rows);
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
      throw flagError('--format', format, 'is not a bundle format; use pem or spiffe');
    }
    const o = outputFormat(flags.output);
    const b = await withAdmin(flags, (client) => client.getBundle());
    if (format === 'pem') output.stdout.write(b.roots_pem.join(''));
    else if (format === 'spiffe') output.stdout.write(`${JSON.stringify(spiffeBundle(b), null, 2)}\n`);
    else printData(output.stdout, o, b, bundleTable);
  });
}

import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { createDevAuthority } from '../../app/dev-authority.js';
import { keyTypes, type KeyType } from '../../x509/key-types.js';
import { parseDurationSeconds } from '../../duration.js';
import { WcaError } from '../../errors.js';

interface IssueFlags {
  spiffeId: string;
  dns: string[];
  ttl?: string;
  keyType: KeyType;
  csr?: string;
  trustDomain: string;
}

/** Debug issuance on a throw-away dev CA: chain, key and the bundle it chains to, on stdout. */
export function registerIssueCommand(program: Command): void {
  program
    .command('issue')
    .description('issue an X.509-SVID from a throw-away dev CA and print chain, key and trust bundle (PEM)')
    .requiredOption('--spiffe-id <id>', 'SPIFFE ID, e.g. spiffe://cluster.local/ns/default/sa/web')
    .option('--dns <name>', 'DNS SAN (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--ttl <duration>', 'lifetime, e.g. 1h or 3600')
    .addOption(new Option('--key-type <type>', 'leaf key type').choices(keyTypes as string[]).default('ec-p256'))
    .option('--csr <file>', 'sign this PKCS#10 CSR instead of generating a key')
    .option('--trust-domain <name>', 'trust domain of the dev CA', 'cluster.local')
    .action(async (flags: IssueFlags) => {
      const ttlSeconds = flags.ttl === undefined ? undefined : parseDurationSeconds(flags.ttl);
      if (flags.ttl !== undefined && ttlSeconds === undefined) {
        throw new WcaError('ERR_TTL_INVALID', `--ttl "${flags.ttl}" is not a duration (use e.g. 30m, 1h or seconds)`);
      }
      const csr = flags.csr === undefined ? undefined : readCsr(flags.csr);
      const authority = await createDevAuthority({ trustDomain: flags.trustDomain, signers: 1 });
      try {
        const request = { spiffeId: flags.spiffeId, dnsNames: flags.dns, ttlSeconds };
        if (csr !== undefined) {
          const cert = await authority.issueForCsr({ ...request, csr });
          process.stdout.write(cert.chainPem + authority.bundle().pem);
        } else {
          const svid = await authority.issue({ ...request, keyType: flags.keyType });
          process.stdout.write(svid.chainPem + svid.privateKeyPem + authority.bundle().pem);
        }
      } finally {
        await authority.close();
      }
    });
}

function readCsr(path: string): string | Buffer {
  let data: Buffer;
  try {
    data = fs.readFileSync(path);
  } catch (err) {
    throw new WcaError('ERR_USAGE', `cannot read --csr ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return data.includes('-----BEGIN') ? data.toString('utf8') : data;
}

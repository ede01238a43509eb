import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { createDevAuthority } from '../../app/dev-authority.js';
import { keyTypes, type KeyType } from '../../x509/key-types.js';
import type { IssuedCert } from '../../ca/types.js';
import { WcaError } from '../../errors.js';
import { configSchema } from '../../config/schema.js';
import { limits } from '../../limits.js';
import { readAtMost } from '../../bounded-read.js';
import { durationFlag, flagError } from '../flags.js';
import { outputFormat, printData, withOutputFormat } from '../output.js';

interface IssueFlags {
  spiffeId: string;
  dns: string[];
  ttl?: string;
  keyType: KeyType;
  csr?: string;
  trustDomain: string;
  format?: string;
  output: string;
}

/** What `issue` prints, each PEM part apart so a script never has to cut a stream of blocks. */
interface Issued {
  spiffe_id: string;
  serial: string;
  not_before: string;
  not_after: string;
  /** Leaf first, then the intermediate. */
  chain_pem: string;
  /** PKCS#8; absent when a CSR was signed (the key stays with its owner). */
  private_key_pem?: string;
  bundle_pem: string;
}

/**
 * PEM with a comment line above each part: PEM readers (OpenSSL, BoringSSL in Envoy)
 * skip text outside the armour, and `awk '/^# /{f=$2}'` splits it by part.
 */
function labelledPem(i: Issued): string {
  let text = `# chain: leaf ${i.spiffe_id} then intermediate\n${i.chain_pem}`;
  if (i.private_key_pem !== undefined) text += `# key: PKCS#8 private key of the leaf\n${i.private_key_pem}`;
  return `${text}# bundle: trust domain roots\n${i.bundle_pem}`;
}

/** `--format` (pem or json) wins; otherwise `-o json` means JSON and the default, for people, labelled PEM. */
function issueFormat(flags: IssueFlags): 'pem' | 'json' {
  if (flags.format !== undefined) {
    if (flags.format !== 'pem' && flags.format !== 'json') throw flagError('--format', flags.format, 'is not an issue format; use pem or json');
    return flags.format;
  }
  return outputFormat(flags.output) === 'json' ? 'json' : 'pem';
}

function issued(cert: IssuedCert, bundlePem: string, privateKeyPem?: string): Issued {
  return {
    spiffe_id: cert.spiffeId,
    serial: cert.serial,
    not_before: cert.notBefore.toISOString(),
    not_after: cert.notAfter.toISOString(),
    chain_pem: cert.chainPem,
    ...(privateKeyPem === undefined ? {} : { private_key_pem: privateKeyPem }),
    bundle_pem: bundlePem,
  };
}

/** Debug issuance on a throw-away dev CA: chain, key and the bundle it chains to, on stdout. */
export function registerIssueCommand(program: Command): void {
  const issue = program
    .command('issue')
    .description('issue an X.509-SVID from a throw-away dev CA and print chain, key and trust bundle (labelled PEM, or JSON)')
    .requiredOption('--spiffe-id <id>', 'SPIFFE ID, e.g. spiffe://cluster.local/ns/default/sa/web')
    .option('--dns <name>', 'DNS SAN (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--ttl <duration>', 'lifetime, e.g. 1h, 1h30m or 3600')
    .addOption(new Option('--key-type <type>', 'leaf key type').choices(keyTypes).default('ec-p256'))
    .option('--csr <file>', 'sign this PKCS#10 CSR instead of generating a key')
    .option('--trust-domain <name>', 'trust domain of the dev CA', 'cluster.local')
    .option('--format <format>', 'pem (each block under a "# chain|key|bundle" line) or json (overrides -o)');
  withOutputFormat(issue).action(async (flags: IssueFlags) => {
    const format = issueFormat(flags);
    // The dev CA has the default ca.leafMaxTtl; checked here so the message names the flag rather than a config key.
    const ttlSeconds = flags.ttl === undefined ? undefined : durationFlag('--ttl', flags.ttl, { min: 1, max: configSchema.parse({}).ca.leafMaxTtl });
    const csr = flags.csr === undefined ? undefined : readCsr(flags.csr);
    const authority = await createDevAuthority({ trustDomain: flags.trustDomain, signers: 1 });
    try {
      const request = { spiffeId: flags.spiffeId, dnsNames: flags.dns, ttlSeconds };
      const result =
        csr !== undefined
          ? issued(await authority.issueForCsr({ ...request, csr }), authority.bundle().pem)
          : await authority.issue({ ...request, keyType: flags.keyType }).then((svid) => issued(svid, authority.bundle().pem, svid.privateKeyPem));
      printData(process.stdout, format === 'json' ? 'json' : 'table', result, labelledPem);
    } finally {
      await authority.close();
    }
  });
}

/** Reads at most csrMaxBytes + 1 bytes: `--csr /dev/zero` (or a log file) is refused, not read to the end. */
function readCsr(path: string): string | Buffer {
  // PEM is base64 of the DER plus armour: a third larger, and lines.
  const most = Math.ceil((limits.csrMaxBytes * 4) / 3) + 4096;
  let data: Buffer | undefined;
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, 'r');
    data = readAtMost(fd, most);
  } catch (err) {
    throw new WcaError('ERR_USAGE', `cannot read --csr ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (data === undefined) throw flagError('--csr', path, `is larger than a CSR can be (${most} bytes)`);
  return data.includes('-----BEGIN') ? data.toString('utf8') : data;
}

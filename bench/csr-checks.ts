import { canonicalRsaKey, checkSignatureParams, parseAndVerifyCsr } from '../src/x509/csr.js';
import type { Tlv } from '../src/x509/der-reader.js';
import { ecSpki } from '../src/x509/keys.js';
import { OID } from '../src/x509/oids.js';
import { makeCsr } from '../test/fakes/csr.js';

/**
 * What the issuing path's CSR checks of issue #8 cost (src/x509/csr.ts): the
 * canonical re-encoding of the public key, the RSA modulus and exponent checks and
 * the signature-algorithm parameter check, called directly on the keys of real
 * CSRs, against the whole parseAndVerifyCsr (parse, checks, key import, signature
 * verify) of the same CSRs in the same run.
 */

export interface CsrCheckCost {
  keyType: 'ec-p256' | 'rsa-2048';
  csrs: number;
  /** Mean µs per CSR of parseAndVerifyCsr, median over rounds. */
  totalUs: number;
  /** Mean µs per CSR of the checks and re-encoding alone, median over rounds. */
  checksUs: number;
}

/** An ASN.1 NULL: the parameters of an RSA PKCS#1 v1.5 signature algorithm. */
const NULL_PARAMS: Tlv[] = [{ tag: 0x05, start: 0, contentStart: 2, end: 2 }];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Mean µs per call of `op` over `calls` calls, median of `rounds` rounds (after one warm-up round). */
async function perCallUs(calls: number, rounds: number, op: (i: number) => unknown): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await op(i);
    if (r > 0) samples.push(Number(process.hrtime.bigint() - start) / 1000 / calls);
  }
  return median(samples);
}

async function measureKeyType(keyType: CsrCheckCost['keyType'], distinct: number, calls: number, rounds: number): Promise<CsrCheckCost> {
  const csrs = Array.from({ length: distinct }, () => makeCsr({ keyType }).der);
  // Key bits as the parser hands them to the checks (a DER CSR re-encodes to itself).
  const keyBits = await Promise.all(csrs.map(async (der) => (await parseAndVerifyCsr(der)).publicKeyBits));
  const totalUs = await perCallUs(calls, rounds, (i) => parseAndVerifyCsr(csrs[i % distinct]!));
  const checks =
    keyType === 'rsa-2048'
      ? (i: number) => {
          checkSignatureParams(NULL_PARAMS, 'rsa');
          return canonicalRsaKey(keyBits[i % distinct]!);
        }
      : (i: number) => {
          checkSignatureParams([], 'ec');
          return ecSpki(OID.p256, keyBits[i % distinct]!);
        };
  const checksUs = await perCallUs(calls, rounds, checks);
  return { keyType, csrs: distinct, totalUs, checksUs };
}

export async function runCsrChecksBench(options: { calls?: number; rounds?: number } = {}): Promise<CsrCheckCost[]> {
  const calls = options.calls ?? 2000;
  const rounds = options.rounds ?? 5;
  // RSA key generation is slow: fewer distinct RSA CSRs, each parsed and verified in full every time.
  return [await measureKeyType('ec-p256', 500, calls, rounds), await measureKeyType('rsa-2048', 20, calls, rounds)];
}

export function printCsrChecksBench(results: CsrCheckCost[]): void {
  console.log('== CSR checks on the issuing path (src/x509/csr.ts, per CSR, same run) ==');
  for (const r of results) {
    const share = ((r.checksUs / r.totalUs) * 100).toFixed(1);
    console.log(
      `${r.keyType.padEnd(8)} parseAndVerifyCsr ${r.totalUs.toFixed(1)} µs (baseline); canonical key + checks ${r.checksUs.toFixed(2)} µs = ${share}% of it  (${r.csrs} distinct CSRs)`,
    );
  }
}

import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '../../src/limits.js';
import { untrustedText } from '../../src/telemetry/untrusted-text.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { decodeSecret, envoyNode, secretTypeUrl, XdsStream } from '../sds/envoy-client.js';
import { counterValue, startHarness, type Harness } from '../sds/harness.js';
import { privateKeyArmour } from '../helpers/pki.js';

/**
 * Issue #8, item 12: a NACK's error_detail is the client's own text. Thousands of
 * NACKs must not flood the log, and nothing a client writes there (a forged line,
 * terminal escapes, bidi overrides, key text) may reach it as written.
 */
let h: Harness;
const lines: string[] = [];
let bytes = 0;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      bytes += chunk.length;
      lines.push(String(chunk));
      done();
    },
  });
  // The production logger (pino with its redaction paths), writing to memory.
  h = await startHarness({ logger: createLogger({ level: 'info', destination: sink }) });
});
afterAll(async () => h?.close());

const nackLines = () =>
  lines
    .join('')
    .split('\n')
    .filter((line) => line.includes('NACK'))
    .map((line) => JSON.parse(line) as { msg: string; nacks: number; unlogged?: number; errorDetail?: string });

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('NACK logging is bounded, cut, escaped and never carries key text', () => {
  it('logs 5,000 NACKs with huge hostile details in a dozen short lines, with the count', async () => {
    const stream = XdsStream.sotw(h.client());
    stream.send({ node: envoyNode('ns/shop/sa/nacker'), resource_names: ['default'], type_url: secretTypeUrl });
    const res = await stream.next();
    const key = decodeSecret(res.resources[0]).privateKey!;
    const keyBody = key.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
    const hostile =
      'Failed to load certificate\n{"level":50,"msg":"forged line"}\u001b[2J\u202eevil\u0000' +
      `${key}${keyBody.join('')}`.repeat(20);
    const bytesBefore = bytes;
    const total = 5000;
    for (let i = 0; i < total; i++) {
      stream.send({ version_info: '', resource_names: ['default'], type_url: secretTypeUrl, response_nonce: res.nonce, error_detail: { code: 13, message: hostile } });
      if (i % 250 === 249) await new Promise((resolve) => setImmediate(resolve));
    }
    await until(async () => (await counterValue(h.metrics.sdsNacks, {})) >= total, 'every NACK to be counted');
    stream.cancel();
    await until(() => nackLines().some((line) => line.nacks === total), 'the closing count');

    const logged = nackLines();
    // 1st, 2nd, 4th … 4096th, then the closing count: 14 lines, where 5,000 were written before.
    expect(logged.length).toBeLessThanOrEqual(14);
    expect(bytes - bytesBefore).toBeLessThan(16 * 1024);
    expect(logged.at(-1)).toMatchObject({ nacks: total, unlogged: total - 4096 });
    const detail = logged[0]!.errorDetail!;
    expect(detail.startsWith('Failed to load certificate\\u000a{"level":50')).toBe(true);
    expect(detail.length).toBeLessThanOrEqual(limits.sdsNackDetailLoggedMax + 1);
    expect(detail).toContain('\\u001b[2J\\u202eevil\\u0000');
    for (const raw of ['\n', '\u001b', '\u202e', '\u0000']) expect(detail).not.toContain(raw);

    const text = lines.join('');
    expect(text).not.toContain('PRIVATE KEY');
    for (const line of keyBody) expect(text).not.toContain(line);
  });
});

describe('untrustedText', () => {
  it.each([
    ['a PEM block cut short by the 1 KiB decode limit', `bad key: ${privateKeyArmour('BEGIN', 'EC ')}\nMHcCAQEEIO`, 'bad key: [PEM redacted]'],
    ['a bare base64 or hex key', `key ${'ab12'.repeat(16)} rejected`, 'key [redacted] rejected'],
    ['a lone surrogate', 'x\ud800y', 'x\\ud800y'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['an ordinary Envoy message', 'Failed to load private key from <inline>', 'Failed to load private key from <inline>'],
    ['a long Kubernetes SPIFFE ID', 'no spiffe://cluster.local/ns/payments-production/sa/payments-api-gateway', 'no spiffe://cluster.local/ns/payments-production/sa/payments-api-gateway'],
    ['a base64 run without a digit', `k ${'AbCdEfGh'.repeat(6)}`, 'k [redacted]'],
  ])('handles %s', (_what, input, expected) => {
    expect(untrustedText(input, 256)).toBe(expected);
  });

  it('cuts after redacting, so a cut never exposes the start of a key', () => {
    const text = `${'x '.repeat(100)}${privateKeyArmour('BEGIN')}\n${'A'.repeat(64)}\n${privateKeyArmour('END')}`;
    expect(untrustedText(text, 220)).toBe(`${'x '.repeat(100)}[PEM redacted]`);
  });
});

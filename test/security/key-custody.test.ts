import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify, inspect } from 'node:util';
import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { redactPaths } from '../../src/telemetry/logger.js';
import { makeCsr } from '../fakes/csr.js';
import { containsPrivateKeyArmour, privateKeyBlocks } from '../helpers/pki.js';
import { hasTools } from '../helpers/tools.js';
import { straceArgs, writtenFiles } from '../helpers/strace.js';
import { builtPath, cliEntry } from '../helpers/test-build.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

/** Base64 body of a PEM: what would appear if key bytes leaked in any encoding we use. */
const bodyOf = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

interface Traced {
  stdout: string;
  written: string[];
}

/**
 * Runs a command under strace and returns the regular files it opened for writing
 * or created. Where ptrace is not permitted (some container sandboxes), falls back
 * to observing: the command runs with a fresh TMPDIR and HOME, and every file
 * created or changed there or in the checkout during the run counts as written.
 */
async function traced(args: string[]): Promise<Traced> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-strace-'));
  const log = path.join(dir, 'trace');
  let stdout: string;
  try {
    ({ stdout } = await run('strace', [...straceArgs(log), process.execPath, ...args], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    }));
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code !== 'ENOENT' && !/ptrace|Operation not permitted/i.test(e.stderr ?? '')) throw err;
    fs.rmSync(dir, { recursive: true, force: true });
    return observed(args);
  }
  const written = writtenFiles(log);
  fs.rmSync(dir, { recursive: true, force: true });
  return { stdout, written };
}

async function observed(args: string[]): Promise<Traced> {
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'wca-observe-'));
  const env = { ...process.env, TMPDIR: path.join(sandbox, 'tmp'), HOME: path.join(sandbox, 'home') };
  fs.mkdirSync(env.TMPDIR);
  fs.mkdirSync(env.HOME);
  const started = Date.now() - 1000;
  const { stdout } = await run(process.execPath, args, { cwd: root, env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  const written: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', '.git'].includes(entry.name)) walk(full);
      } else if (entry.isFile() && fs.statSync(full).mtimeMs >= started) {
        written.push(full);
      }
    }
  };
  walk(sandbox);
  walk(root);
  return { stdout, written };
}

// The two traced processes have nothing in common (each its own trace and temp directory), so they run side by side.
describe.runIf(hasTools('strace'))('security invariant: no private key is ever written to disk', () => {
  it.concurrent('a full issuance workload (signer threads, CSRs, rotations) writes no key anywhere', async () => {
    const { stdout, written } = await traced([builtPath(path.join(root, 'test/fixtures/security/issue-many.ts'))]);
    const keys = (JSON.parse(stdout) as { keys: string[] }).keys;
    expect(keys).toHaveLength(200);
    // Plain node on transpiled source: not one file is written, key or otherwise.
    expect(written).toEqual([]);
  }, 180_000);

  it.concurrent('the CLI `issue` command prints the key and writes it nowhere', async () => {
    const { stdout, written } = await traced([cliEntry, 'issue', '--spiffe-id', 'spiffe://cluster.local/cli']);
    expect(privateKeyBlocks(stdout)).toHaveLength(1);
    expect(written).toEqual([]);
  }, 120_000);
});

describe('security invariant: no key material in logs or errors', () => {
  it('trace-level logs of issuance, rejections and rotation carry no key', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'trace', redact: { paths: redactPaths, censor: '[REDACTED]' } }, sink);
    const ca = await createDevAuthority({ logger, signers: 1 });
    try {
      const svids = await Promise.all(Array.from({ length: 20 }, () => ca.issue({ spiffeId: 'spiffe://cluster.local/x' })));
      const errors: string[] = [];
      const csr = makeCsr({ breakSignature: true });
      for (const bad of [
        () => ca.issueForCsr({ spiffeId: 'spiffe://cluster.local/x', csr: csr.pem }),
        () => ca.issue({ spiffeId: 'spiffe://cluster.local/x', ttlSeconds: -1 }),
        () => ca.issue({ spiffeId: svids[0]!.privateKeyPem }),
        () => ca.issue({ spiffeId: 'spiffe://cluster.local/x', dnsNames: [svids[0]!.privateKeyPem] }),
      ]) {
        await bad().catch((e: Error) => errors.push(`${e.message} ${JSON.stringify(e)}`));
      }
      await ca.prepareNext();
      ca.activateNext('log test');
      logger.info({ privateKeyPem: svids[1]!.privateKeyPem, nested: { token: 'secret-token' } }, 'redaction check');
      const logText = lines.join('');
      expect(logText).toContain('activated intermediate');
      expect(logText).toContain('[REDACTED]');
      expect(logText).not.toContain('secret-token');
      expect(errors).toHaveLength(4);
      const csrPrivate = csr.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      for (const text of [logText, errors.join('\n')]) {
        expect(containsPrivateKeyArmour(text)).toBe(false);
        for (const s of svids) expect(text).not.toContain(bodyOf(s.privateKeyPem).slice(0, 40));
        expect(text).not.toContain(bodyOf(csrPrivate).slice(0, 40));
      }
      // An ID made of key bytes is quoted only as a short prefix.
      expect(errors[2]!.length).toBeLessThan(400);
    } finally {
      await ca.close();
    }
  });

  it('nothing the Authority returns or exposes contains a CA private key', async () => {
    const ca = await createDevAuthority({ signers: 1 });
    try {
      const exposed = [ca.bundle().pem, ...ca.intermediatesPem(), JSON.stringify(ca.slotLifetimes()), inspect(ca, { depth: 6 })];
      for (const text of exposed) expect(containsPrivateKeyArmour(text)).toBe(false);
      expect(ca.intermediatesPem()[0]).toMatch(/BEGIN CERTIFICATE/);
    } finally {
      await ca.close();
    }
  });
});

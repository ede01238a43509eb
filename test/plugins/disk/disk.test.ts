import { createPrivateKey, KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUpstream } from '../../../src/upstream/loader.js';
import { isWcaError, type ErrorCode } from '../../../src/errors.js';
import type { PluginContext, UpstreamAuthority } from '../../../src/upstream/types.js';
import { mintAndValidate as mint } from '../../fakes/mint.js';
import { capturingLogger, createTestRootCa, privateKeyPem, testPluginContext, type TestRootCa } from '../../fakes/upstream-ca.js';
import { issueTestLeaf, provesEndToEnd } from '../../upstream/leaf-check.js';
import { hasTools } from '../../helpers/tools.js';

const td = 'disk.example';
const passphrase = 'correct horse battery staple';
let dir: string;
let root: TestRootCa;
let sub: TestRootCa;
let other: TestRootCa;
const file = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wca-disk-'));
  root = await createTestRootCa({ name: 'Disk Root' });
  sub = await createTestRootCa({ name: 'Disk Org', subCaLevels: 1 });
  other = await createTestRootCa({ name: 'Other' });
  const expired = await createTestRootCa({ name: 'Old', notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
  const notCa = await issueTestLeaf(root.rootKeys, root.rootPem, 'spiffe://disk.example/leaf');
  const files: Record<string, string> = {
    'root.pem': root.rootPem,
    'root.key': await privateKeyPem(root.rootKeys),
    'root-enc.key': await privateKeyPem(root.rootKeys, passphrase),
    'sub.pem': sub.chainPem[0]! + sub.rootPem,
    'sub-only.pem': sub.chainPem[0]!,
    'sub.key': await privateKeyPem(sub.issuerKeys),
    'sub-bundle.pem': sub.rootPem,
    'other.key': await privateKeyPem(other.rootKeys),
    'expired.pem': expired.rootPem,
    'expired.key': await privateKeyPem(expired.rootKeys),
    'leaf.pem': notCa.certPem,
    'leaf.key': notCa.keyPem,
    'pass.txt': `${passphrase}\n`,
    'empty.pem': '',
    'garbage.key': 'not a key',
    // root's public key beside other's private scalar: what a corrupted key file looks like.
    'corrupted.key': createPrivateKey({ key: { ...KeyObject.from(root.rootKeys.privateKey).export({ format: 'jwk' }), d: KeyObject.from(other.rootKeys.privateKey).export({ format: 'jwk' }).d }, format: 'jwk' })
      .export({ type: 'pkcs8', format: 'pem' }) as string,
  };
  // Key files as an operator must keep them: production refuses group/world-readable ones.
  for (const [name, text] of Object.entries(files)) await writeFile(file(name), text, { mode: name.endsWith('.key') ? 0o600 : 0o644 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function mintAndValidate(upstream: UpstreamAuthority) {
  const { csr, validate } = await mint(upstream, { trustDomain: td });
  return { csr, validated: validate() };
}

const load = (config: Record<string, unknown>, context: PluginContext = testPluginContext()) => loadUpstream({ plugin: 'disk', config }, context);

describe('disk plugin', () => {
  it.runIf(hasTools('openssl'))('self-signed root on disk: leaf passes openssl verify and a mutual TLS handshake', async () => {
    const upstream = await load({ certFile: file('root.pem'), keyFile: file('root.key') });
    const { csr, validated } = await mintAndValidate(upstream);
    expect(validated.chainPem).toHaveLength(1);
    expect(validated.rootsPem).toEqual([root.rootPem]);
    const proof = await provesEndToEnd(csr.keys, validated, td);
    expect(proof.opensslOutput).toMatch(/: OK/);
    expect(proof.serverSawClient).toBe(`spiffe://${td}/client`);
  });

  it.runIf(hasTools('openssl'))('sub-CA on disk with a separate bundle: chain is ours, the sub-CA, then the root in the bundle', async () => {
    const upstream = await load({ certFile: file('sub.pem'), keyFile: file('sub.key'), bundleFile: file('sub-bundle.pem') });
    const { csr, validated } = await mintAndValidate(upstream);
    expect(validated.chainPem.slice(1)).toEqual([sub.chainPem[0]]);
    expect(validated.rootsPem).toEqual([sub.rootPem]);
    expect((await provesEndToEnd(csr.keys, validated, td)).opensslOutput).toMatch(/: OK/);
  });

  it.each([
    { source: 'environment variable', config: { keyPassphraseEnv: 'CA_PASS' }, env: { CA_PASS: passphrase } },
    { source: 'file', config: { keyPassphraseFile: 'pass.txt' }, env: {} },
  ])('encrypted PKCS#8 key with the passphrase from a $source; passphrase and key never logged', async ({ config, env }) => {
    const log = capturingLogger();
    const resolved = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, k.endsWith('File') ? file(v) : v]));
    const upstream = await load(
      { certFile: file('root.pem'), keyFile: file('root-enc.key'), ...resolved },
      testPluginContext({ env, logger: log.logger, devProfile: false }),
    );
    await mintAndValidate(upstream);
    expect(log.text()).toMatch(/labs only/);
    expect(log.text()).not.toContain(passphrase);
    expect(log.text()).not.toMatch(/PRIVATE KEY/);
  });

  it('does not warn in the dev profile', async () => {
    const log = capturingLogger();
    await load({ certFile: file('root.pem'), keyFile: file('root.key') }, testPluginContext({ logger: log.logger, devProfile: true }));
    expect(log.lines().filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('fetchRoots re-reads the bundle file', async () => {
    const bundle = file('rotating-bundle.pem');
    await writeFile(bundle, sub.rootPem);
    const upstream = await load({ certFile: file('sub.pem'), keyFile: file('sub.key'), bundleFile: bundle });
    expect(await upstream.fetchRoots!()).toEqual([sub.rootPem]);
    await writeFile(bundle, sub.rootPem + other.rootPem);
    expect(await upstream.fetchRoots!()).toEqual([sub.rootPem, other.rootPem]);
  });

  const failures: Array<{ name: string; config: Record<string, unknown>; env?: Record<string, string>; code?: ErrorCode; message: RegExp }> = [
    { name: 'missing certFile key', config: { keyFile: 'root.key' }, message: /^upstream "disk": config\.certFile: .*expected string/ },
    { name: 'unknown key', config: { certFile: 'root.pem', keyFile: 'root.key', keyPath: 'x' }, message: /^upstream "disk": config: .*"keyPath"/ },
    {
      name: 'both passphrase sources',
      config: { certFile: 'root.pem', keyFile: 'root-enc.key', keyPassphraseEnv: 'A', keyPassphraseFile: 'pass.txt' },
      message: /config\.keyPassphraseFile: set keyPassphraseEnv or keyPassphraseFile, not both/,
    },
    { name: 'cert file missing', config: { certFile: 'nope.pem', keyFile: 'root.key' }, message: /config\.certFile: cannot read .*nope\.pem \(ENOENT\)/ },
    { name: 'cert file without certificates', config: { certFile: 'empty.pem', keyFile: 'root.key' }, message: /config\.certFile: .*empty\.pem contains no PEM certificate/ },
    { name: 'key file not a key', config: { certFile: 'root.pem', keyFile: 'garbage.key' }, message: /config\.keyFile: .*garbage\.key: is not a PEM private key/ },
    { name: 'key for another certificate', config: { certFile: 'root.pem', keyFile: 'other.key' }, message: /config\.keyFile: the key in .*other\.key does not match the certificate in .*root\.pem/ },
    { name: 'key whose private part does not match its public part', config: { certFile: 'root.pem', keyFile: 'corrupted.key' }, message: /config\.keyFile: the key in .*corrupted\.key does not match the certificate in .*root\.pem/ },
    { name: 'encrypted key without passphrase', config: { certFile: 'root.pem', keyFile: 'root-enc.key' }, message: /config\.keyFile: .*root-enc\.key is encrypted; set keyPassphraseEnv or keyPassphraseFile/ },
    {
      name: 'wrong passphrase',
      config: { certFile: 'root.pem', keyFile: 'root-enc.key', keyPassphraseEnv: 'CA_PASS' },
      env: { CA_PASS: 'wrong-pass-123' },
      message: /config\.keyFile: .*cannot decrypt the key \(wrong passphrase\?\)/,
    },
    {
      name: 'passphrase variable unset',
      config: { certFile: 'root.pem', keyFile: 'root-enc.key', keyPassphraseEnv: 'CA_PASS' },
      message: /config\.keyPassphraseEnv: environment variable CA_PASS is not set or empty/,
    },
    { name: 'certificate that is not a CA', config: { certFile: 'leaf.pem', keyFile: 'leaf.key' }, message: /config\.certFile: .*not a CA/ },
    { name: 'expired CA certificate', config: { certFile: 'expired.pem', keyFile: 'expired.key' }, code: 'ERR_UPSTREAM_CHAIN', message: /is not valid now/ },
    { name: 'no bundle for a non-root CA', config: { certFile: 'sub-only.pem', keyFile: 'sub.key' }, message: /config\.bundleFile: required: the CA certificate chain does not end in a self-signed root/ },
  ];

  it.each(failures)('rejects $name', async ({ config, env, code, message }) => {
    const resolved = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, k.endsWith('File') ? file(v as string) : v]));
    const err = await load(resolved, testPluginContext({ env: env ?? {} })).catch((e: unknown) => e);
    expect(isWcaError(err, code ?? 'ERR_UPSTREAM_CONFIG'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('wrong-pass-123');
  });
});

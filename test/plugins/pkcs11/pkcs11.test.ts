/**
 * Against a real SoftHSM2 token: keys generated on the token, roots and
 * intermediates signed by the HSM through our plugin, leaves checked by
 * openssl and a mutual TLS handshake.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUpstream } from '../../../src/upstream/loader.js';
import { isWcaError, type ErrorCode } from '../../../src/errors.js';
import { algorithmForPublicKey, createSelfSignedRoot } from '../../../src/upstream/sdk/ca-signer.js';
import type { UpstreamAuthority } from '../../../src/upstream/types.js';
import { openSession } from '../../../plugins/pkcs11/client.js';
import { hsmSigner } from '../../../plugins/pkcs11/signer.js';
import { mintAndValidate } from '../../fakes/mint.js';
import { createTestRootCa, testPluginContext, capturingLogger } from '../../fakes/upstream-ca.js';
import { createSoftHsmToken, softhsmModule, type SoftHsmToken, type TokenKey } from '../../fixtures/upstream/softhsm.js';
import { provesEndToEnd } from '../../upstream/leaf-check.js';
import { hasTools } from '../../helpers/tools.js';
import { runUpstreamCheck, type CheckStep } from '../../../src/cli/commands/upstream.js';

const haveHsm = hasTools('softhsm', 'pkcs11tool');

const td = 'hsm.example';
let token: SoftHsmToken;
const files = { ecRoot: '', rsaRoot: '', otherEcRoot: '', pin: '' };

async function hsmRoot(key: TokenKey, subject: string): Promise<string> {
  const session = openSession({ module: softhsmModule, tokenLabel: token.tokenLabel, pin: token.pin });
  try {
    const handle = session.findPrivateKey({ label: key.label })!;
    const signer = hsmSigner(session, handle, algorithmForPublicKey(key.spkiDer), key.spkiDer);
    return await createSelfSignedRoot({ signer, subject, ttlSeconds: 30 * 86400, trustDomain: td });
  } finally {
    session.close();
  }
}

beforeAll(async () => {
  if (!haveHsm) return;
  token = await createSoftHsmToken();
  files.ecRoot = path.join(token.dir, 'ec-root.pem');
  files.rsaRoot = path.join(token.dir, 'rsa-root.pem');
  files.pin = path.join(token.dir, 'pin.txt');
  files.otherEcRoot = path.join(token.dir, 'other-ec-root.pem');
  await writeFile(files.otherEcRoot, (await createTestRootCa()).rootPem);
  const ecRoot = await hsmRoot(token.ec, 'CN=HSM EC Root, O=workload-ca tests');
  await writeFile(files.ecRoot, ecRoot);
  await writeFile(files.rsaRoot, await hsmRoot(token.rsa, 'CN=HSM RSA Root, O=workload-ca tests'));
  await writeFile(files.pin, `${token.pin}\n`);
  await token.writeCertificate(new X509Certificate(ecRoot).raw, 'ca-cert');
}, 120_000);

afterAll(async () => {
  await token?.cleanup();
});

const base = () => ({ module: softhsmModule, tokenLabel: token.tokenLabel, pinEnv: 'HSM_PIN' });
const ctx = (extra: Record<string, string> = {}) => testPluginContext({ env: { HSM_PIN: token.pin, ...extra } });
const load = (config: Record<string, unknown>, context = ctx()) => loadUpstream({ plugin: 'pkcs11', config }, context);

async function mintAndProve(upstream: UpstreamAuthority) {
  const { csr, validate } = await mintAndValidate(upstream, { trustDomain: td });
  const validated = validate();
  return { validated, proof: await provesEndToEnd(csr.keys, validated, td) };
}

describe.runIf(haveHsm)('pkcs11 plugin (real SoftHSM2)', () => {
  it('the root the HSM signed for itself verifies under the token key', async () => {
    const root = new X509Certificate(await readFile(files.ecRoot));
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.publicKey.export({ format: 'der', type: 'spki' }).equals(token.ec.spkiDer)).toBe(true);
  });

  it('EC P-256 key by label, certificate from a file: leaf passes openssl verify and mutual TLS', async () => {
    const upstream = await load({ ...base(), keyLabel: 'ca-key', certFile: files.ecRoot });
    const { validated, proof } = await mintAndProve(upstream);
    expect(validated.chainPem).toHaveLength(1);
    expect(proof.opensslOutput).toMatch(/: OK/);
    expect(proof.clientSawServer).toBe(`spiffe://${td}/server`);
    await upstream.close();
  });

  it('key by id, certificate from the token, PIN from a file, token by slot id', async () => {
    const upstream = await load({ module: softhsmModule, slot: token.slotId, pinFile: files.pin, keyId: '01', certLabel: 'ca-cert' });
    const { proof } = await mintAndProve(upstream);
    expect(proof.opensslOutput).toMatch(/: OK/);
    await upstream.close();
  });

  it('RSA key signs with CKM_SHA256_RSA_PKCS', async () => {
    const upstream = await load({ ...base(), keyLabel: 'rsa-key', certFile: files.rsaRoot });
    const { validated, proof } = await mintAndProve(upstream);
    expect(new X509Certificate(validated.certificatePem).verify(new X509Certificate(validated.rootsPem[0]!).publicKey)).toBe(true);
    expect(proof.opensslOutput).toMatch(/: OK/);
    await upstream.close();
  });

  it('two instances share the module; closing one (twice) leaves the other working', async () => {
    const a = await load({ ...base(), keyLabel: 'ca-key', certFile: files.ecRoot });
    const b = await load({ ...base(), keyLabel: 'ca-key', certFile: files.ecRoot });
    await a.close();
    await a.close();
    const { proof } = await mintAndProve(b);
    expect(proof.opensslOutput).toMatch(/: OK/);
    await b.close();
  });

  it('never logs the PIN', async () => {
    const log = capturingLogger();
    const upstream = await load({ ...base(), keyLabel: 'ca-key', certFile: files.ecRoot }, testPluginContext({ env: { HSM_PIN: token.pin }, logger: log.logger, devProfile: false }));
    await mintAndProve(upstream);
    await upstream.close();
    expect(log.text()).not.toContain(token.pin);
  });

  const failures: Array<{ name: string; config: () => Record<string, unknown>; env?: Record<string, string>; code: ErrorCode; message: RegExp }> = [
    { name: 'wrong PIN', config: () => ({ ...base(), keyLabel: 'ca-key', certFile: files.ecRoot }), env: { HSM_PIN: '11112222' }, code: 'ERR_UPSTREAM_AUTH', message: /^upstream "pkcs11": PIN incorrect for token "[^"]+" \(slot \d+\) of \S+$/ },
    { name: 'missing key label', config: () => ({ ...base(), keyLabel: 'nope', certFile: files.ecRoot }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.keyLabel: no private key with label "nope" on the token/ },
    { name: 'missing module', config: () => ({ ...base(), module: '/nonexistent/libpkcs11.so', keyLabel: 'ca-key', certFile: files.ecRoot }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.module: cannot load PKCS#11 module \/nonexistent\/libpkcs11\.so/ },
    { name: 'unknown token', config: () => ({ ...base(), tokenLabel: 'other-token', keyLabel: 'ca-key', certFile: files.ecRoot }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.tokenLabel: token "other-token" not found/ },
    { name: 'unknown slot', config: () => ({ module: softhsmModule, slot: 4242, pinEnv: 'HSM_PIN', keyLabel: 'ca-key', certFile: files.ecRoot }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.slot: slot 4242 not found/ },
    { name: 'key that does not match the certificate', config: () => ({ ...base(), keyLabel: 'ca-key', certFile: files.rsaRoot }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.keyLabel: the key with label "ca-key" does not match the CA certificate/ },
    { name: 'EC key for another EC certificate', config: () => ({ ...base(), keyId: '01', certFile: files.otherEcRoot }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.keyId: the key with id 01 does not match the CA certificate/ },
    { name: 'certificate label not on the token', config: () => ({ ...base(), keyLabel: 'ca-key', certLabel: 'missing-cert' }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.certLabel: no certificate labelled "missing-cert"/ },
    { name: 'PIN variable unset', config: () => ({ ...base(), pinEnv: 'NO_SUCH_VAR', keyLabel: 'ca-key', certFile: files.ecRoot }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.pinEnv: environment variable NO_SUCH_VAR is not set/ },
    { name: 'no PIN source', config: () => ({ module: softhsmModule, tokenLabel: 'x', keyLabel: 'k', certFile: 'c' }), code: 'ERR_UPSTREAM_CONFIG', message: /^upstream "pkcs11": config\.pinEnv: set exactly one of pinEnv or pinFile$/ },
    { name: 'token label and slot together', config: () => ({ ...base(), slot: 1, keyLabel: 'k', certFile: 'c' }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.tokenLabel: set exactly one of tokenLabel or slot/ },
    { name: 'key id not hex', config: () => ({ ...base(), keyId: 'zz', certFile: 'c' }), code: 'ERR_UPSTREAM_CONFIG', message: /config\.keyId: hex bytes/ },
  ];

  it.each(failures)('rejects $name with $code', async ({ config, env, code, message }) => {
    const err = await load(config(), ctx(env)).catch((e: unknown) => e);
    expect(isWcaError(err, code), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(token.pin);
  });

  it('after a wrong PIN the module is released and a correct PIN works', async () => {
    await expect(load({ ...base(), keyLabel: 'ca-key', certFile: files.ecRoot }, ctx({ HSM_PIN: '99990000' }))).rejects.toThrow(/PIN incorrect/);
    const upstream = await load({ ...base(), keyLabel: 'ca-key', certFile: files.ecRoot });
    await upstream.close();
  });
});

describe.runIf(haveHsm)('upstream check against the HSM (real SoftHSM2 login)', () => {
  async function check(pin: string): Promise<{ steps: CheckStep[]; error?: Error & { code?: string } }> {
    const file = path.join(token.dir, 'check.yaml');
    await writeFile(
      file,
      `profile: dev\ntrustDomain: ${td}\nlog:\n  level: silent\nupstream:\n  plugin: pkcs11\n  config:\n` +
        `    module: ${softhsmModule}\n    tokenLabel: ${token.tokenLabel}\n    pinEnv: HSM_PIN\n    keyLabel: ca-key\n    certFile: ${files.ecRoot}\n`,
    );
    let text = '';
    const error = await runUpstreamCheck({ config: file, env: { HSM_PIN: pin }, format: 'json', out: { write: (t: string) => (text += t) } }).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    return { steps: (JSON.parse(text) as { steps: CheckStep[] }).steps, error };
  }

  it('the auth step asks the HSM: logged in as user to the token, and the key signs for the CA certificate', async () => {
    const { steps, error } = await check(token.pin);
    expect(error).toBeUndefined();
    expect(steps.find((s) => s.step === 'auth')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(new RegExp(`^logged in as user to token "${token.tokenLabel}" \\(slot \\d+\\) of ${softhsmModule}; the key with label "ca-key" signs for CN=HSM EC Root`)),
    });
  });

  it('a wrong PIN fails the connect step with ERR_UPSTREAM_AUTH naming the token and slot, never the PIN', async () => {
    const { steps, error } = await check('31415926');
    expect(error?.code).toBe('ERR_UPSTREAM_AUTH');
    const connect = steps.find((s) => s.step === 'connect')!;
    expect(connect.status).toBe('fail');
    expect(connect.detail).toMatch(new RegExp(`PIN incorrect for token "${token.tokenLabel}" \\(slot \\d+\\)`));
    expect(JSON.stringify(steps)).not.toContain('31415926');
    expect(steps.some((s) => s.step === 'auth')).toBe(false);
  });
});

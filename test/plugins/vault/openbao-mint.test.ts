/**
 * The vault plugin's PKI side against a real OpenBao 2.7.2: both issuer layouts,
 * the real ca_chain and warnings, the refusals a real server gives (unknown
 * issuer, missing capability, namespaces), lifetimes cut by the mount's max TTL
 * and by the issuer's own end, and revocation seen in the real CRL.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { VaultConfigInput } from '../../../plugins/vault/config.js';
import { hasTools } from '../../helpers/tools.js';
import { mintAndValidate, rejectionOf, trustDomain } from '../../fakes/mint.js';
import { provesEndToEnd } from '../../upstream/leaf-check.js';
import { createVault, type Harness } from './harness.js';
import { OpenBao, signPolicy } from './openbao.js';

const run = promisify(execFile);

describe.runIf(hasTools('bao', 'openssl'))('vault plugin PKI against a real OpenBao', () => {
  let bao: OpenBao;
  let rootPem: string;
  let meshPem: string;
  let signer: string;
  const harnesses: Harness[] = [];

  beforeAll(async () => {
    bao = await OpenBao.start();
    rootPem = await bao.rootMount('pki');
    meshPem = await bao.intermediateMount('pki_int', 'pki', 'mesh', rootPem);
    await bao.policy('signer', signPolicy('pki/root/sign-intermediate', 'pki/revoke') + signPolicy('pki_int/issuer/mesh/sign-intermediate'));
    signer = await bao.token(['signer']);
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.authority.close();
  });
  afterAll(async () => {
    await bao?.stop();
  });

  async function vault(config: Partial<VaultConfigInput> = {}, token = signer) {
    const h = await createVault({ address: bao.address, auth: { method: 'token' }, ...config }, { VAULT_TOKEN: token });
    harnesses.push(h);
    return h;
  }

  const trim = (pems: string[]) => pems.map((p) => p.trim());
  // Warnings about the mint; the dev profile's warning that this test server is plain http is not one.
  const warnLines = (h: Harness) => h.logText().split('\n').filter((l) => l.includes('"level":"warn"') && !l.includes('address is plain http'));

  it('root issuer (root/sign-intermediate): the chain is ours alone, the root is OpenBao\'s, leaves verify with openssl', async () => {
    const h = await vault();
    const { csr, result, validate } = await mintAndValidate(h.authority);
    // ca_chain came back as [ours, root]: ours must not be mistaken for an issuer.
    expect(result.upstreamChainPem).toEqual([]);
    expect(trim(result.rootsPem)).toEqual([rootPem.trim()]);
    const validated = validate();
    expect(validated.truncated).toBe(false);
    const proof = await provesEndToEnd(csr.keys, validated, trustDomain);
    expect(proof.opensslOutput).toContain('OK');
    // The pathLen-0 and AIA notes come with every mint: neither returned (the core would log them) nor logged at warn.
    expect(result.warnings).toBeUndefined();
    expect(warnLines(h)).toEqual([]);
    expect(h.logText()).toContain('Max path length of the signed certificate is zero');
  });

  it('intermediate issuer (issuer/mesh/sign-intermediate): chain [mesh], root from the answer, roots from issuer/mesh/json', async () => {
    const h = await vault({ pkiMount: 'pki_int', issuerRef: 'mesh' });
    const { csr, result, validate } = await mintAndValidate(h.authority);
    expect(trim(result.upstreamChainPem)).toEqual([meshPem.trim()]);
    expect(trim(result.rootsPem)).toEqual([rootPem.trim()]);
    const validated = validate();
    expect(validated.chainPem).toHaveLength(2);
    expect((await provesEndToEnd(csr.keys, validated, trustDomain)).opensslOutput).toContain('OK');
    expect(trim(await h.authority.fetchRoots!())).toEqual([rootPem.trim()]);
    expect(result.warnings).toBeUndefined();
  });

  it('an unknown issuer (HTTP 500 from OpenBao) is a configuration error with one readable line', async () => {
    const h = await vault({ issuerRef: 'no-such-issuer' });
    const err = await rejectionOf(mintAndValidate(h.authority));
    expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
    expect(err.message).toMatch(/returned HTTP 500: .*unable to find PKI issuer for reference: no-such-issuer$/);
    expect(err.message).not.toContain('\n');
  });

  it('a policy without the sign capability: ERR_UPSTREAM_DENIED, "1 error occurred:\\n\\t* …" made one line', async () => {
    await bao.policy('reader', 'path "pki/cert/*" { capabilities = ["read"] }');
    const h = await vault({}, await bao.token(['reader']));
    const err = await rejectionOf(mintAndValidate(h.authority));
    expect(err.code).toBe('ERR_UPSTREAM_DENIED');
    expect(err.message).toBe('vault: pki/root/sign-intermediate returned HTTP 403: permission denied');
  });

  it('a mount max TTL below the request: OpenBao clamps, its warning is returned once, validation reports truncation', async () => {
    await bao.rootMount('capped');
    await bao.admin('POST', 'sys/mounts/capped/tune', { max_lease_ttl: '1800s' });
    await bao.policy('capped', signPolicy('capped/root/sign-intermediate'));
    const h = await vault({ pkiMount: 'capped' }, await bao.token(['capped']));
    const { result, validate } = await mintAndValidate(h.authority, { ttlSeconds: 3600 });
    expect(result.warnings).toEqual(['TTL "1h0m0s" is longer than permitted maxTTL "30m0s", so maxTTL is being used']);
    const validated = validate();
    expect(validated.truncated).toBe(true);
    expect(validated.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(1800_000);
    expect(warnLines(h)).toEqual([]); // the core logs the returned warnings, once
  });

  it('an issuer that ends before the requested TTL: the request is cut to the issuer\'s life, never past it', async () => {
    const shortRoot = new X509Certificate(await bao.rootMount('short', { ttl: '2h' }));
    await bao.policy('short', signPolicy('short/root/sign-intermediate'));
    const h = await vault({ pkiMount: 'short' }, await bao.token(['short']));
    // OpenBao 2.7.2 would sign all 10 h, past its root's end (see fake-shapes.test.ts for that answer).
    const { result, validate } = await mintAndValidate(h.authority, { ttlSeconds: 10 * 3600 });
    const ours = new X509Certificate(result.certificatePem);
    expect(Date.parse(ours.validTo)).toBeLessThanOrEqual(Date.parse(shortRoot.validTo));
    expect(result.warnings?.[0]).toMatch(/^requested TTL 36000s cut to \d+s: the issuer's chain ends at /);
    const validated = validate();
    expect(validated.truncated).toBe(true);
    expect(validated.notAfter.getTime()).toBeLessThanOrEqual(Date.parse(shortRoot.validTo));
  });

  describe('namespaces', () => {
    beforeAll(async () => {
      await bao.admin('POST', 'sys/namespaces/team-a', {});
      await bao.rootMount('pki', { namespace: 'team-a' });
      await bao.policy('signer', signPolicy('pki/root/sign-intermediate'), 'team-a');
    });

    it('signs inside an existing namespace with a token of that namespace', async () => {
      const h = await vault({ namespace: 'team-a' }, await bao.token(['signer'], { namespace: 'team-a' }));
      const { result, validate } = await mintAndValidate(h.authority);
      validate();
      const nsRoot = (await bao.admin('GET', 'pki/cert/ca_chain', undefined, 'team-a')).body.data.ca_chain as string;
      expect(trim(result.rootsPem)).toEqual([nsRoot.trim()]);
      expect(nsRoot.trim()).not.toBe(rootPem.trim());
    });

    it('a namespace that does not exist is a configuration error before any login', async () => {
      const h = await vault({ namespace: 'team-b' });
      const err = await rejectionOf(mintAndValidate(h.authority));
      expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
      expect((err as { details?: { reason?: string } }).details?.reason).toBe('namespace-missing');
      expect(err.message).toContain(`config.namespace "team-b" does not exist at ${bao.address}`);
    });
  });

  describe('revocation', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'wca-crl-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('revoke(serial) puts our intermediate on the mount\'s CRL (parsed by @peculiar/x509 and openssl)', async () => {
      const h = await vault();
      const { result } = await mintAndValidate(h.authority);
      const serial = new X509Certificate(result.certificatePem).serialNumber;
      await h.authority.revoke!(serial);

      const crl = await bao.call('GET', 'pki/crl');
      expect(crl.status).toBe(200);
      const der = crl.bytes;
      const parsed = new x509.X509Crl(new Uint8Array(der));
      expect(parsed.entries.map((e) => e.serialNumber.toLowerCase())).toContain(serial.toLowerCase());
      const file = path.join(dir, 'crl.der');
      await writeFile(file, der);
      const { stdout } = await run('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
      expect(stdout.replace(/\s/g, '')).toContain(`SerialNumber:${serial.toUpperCase()}`);
    });

    it.each(['', 'zz:11', '0'.repeat(42)])('refuses the serial %j without a call (ERR_USAGE)', async (serial) => {
      const h = await vault();
      const err = await rejectionOf(h.authority.revoke!(serial));
      expect(err.code).toBe('ERR_USAGE');
    });

    it('an unknown serial is Vault\'s refusal, one line', async () => {
      const h = await vault();
      const err = await rejectionOf(h.authority.revoke!('11:22:33'));
      expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
      expect(err.message).toBe('vault: pki/revoke returned HTTP 400: certificate with serial 11:22:33 not found.');
    });
  });
});

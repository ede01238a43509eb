/**
 * How we know the Vault upstream works: `serve` with a real OpenBao 2.7.2 over
 * TLS (trusted through caFile), then an Envoy-like SDS client gets a certificate
 * that `openssl verify -x509_strict` chains to OpenBao's root, for both issuer
 * layouts and both auth methods. `upstream check` runs against the same server:
 * it reports credentials as accepted only after OpenBao accepted them.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../../src/app.js';
import { runUpstreamCheck } from '../../../src/cli/commands/upstream.js';
import { loadConfig } from '../../../src/config/load.js';
import { exitCodeOf, ExitCode } from '../../../src/errors.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { opensslVerify, splitPem } from '../../helpers/pki.js';
import { hasTools } from '../../helpers/tools.js';
import { connect, decodeSecret, envoyNode, secretTypeUrl, XdsStream } from '../../sds/envoy-client.js';
import { OpenBao, signPolicy } from './openbao.js';

describe.runIf(hasTools('bao', 'openssl'))('serve with a real OpenBao upstream over TLS, then SDS', () => {
  let bao: OpenBao;
  let dir: string;
  let rootPem: string;
  let token: string;
  let approle: { roleId: string; secretId: string };

  beforeAll(async () => {
    bao = await OpenBao.start({ tls: true });
    dir = await mkdtemp(path.join(tmpdir(), 'wca-bao-serve-'));
    rootPem = await bao.rootMount('pki');
    await bao.intermediateMount('pki_int', 'pki', 'mesh', rootPem);
    await bao.policy('signer', signPolicy('pki/root/sign-intermediate') + signPolicy('pki_int/issuer/mesh/sign-intermediate'));
    token = await bao.token(['signer']);
    approle = await bao.appRole('workload-ca', { policies: ['signer'], tokenTtl: '1h', tokenMaxTtl: '4h' });
  });
  afterAll(async () => {
    await bao?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const layouts = {
    root: 'pkiMount: pki',
    intermediate: 'pkiMount: pki_int\n    issuerRef: mesh',
  };
  const auths = {
    token: () => ({ yaml: 'method: token', env: { VAULT_TOKEN: token } }),
    approle: () => ({ yaml: `method: approle\n      roleId: ${approle.roleId}`, env: { VAULT_APPROLE_SECRET_ID: approle.secretId } }),
  };

  async function configFile(name: string, layout: string, authYaml: string, address = bao.address, extra = ''): Promise<string> {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(
      file,
      `profile: dev\ntrustDomain: cluster.local\nlog:\n  level: silent\nupstream:\n  plugin: vault\n  config:\n` +
        `    address: ${address}\n    caFile: ${bao.caFile}\n    ${layout}\n    auth:\n      ${authYaml}\n${extra}`,
    );
    return file;
  }

  it.each([
    ['root', 'token'],
    ['intermediate', 'token'],
    ['root', 'approle'],
    ['intermediate', 'approle'],
  ] as const)('%s issuer, %s auth: the SDS certificate chains to OpenBao\'s root (openssl -x509_strict)', async (layout, method) => {
    const auth = auths[method]();
    // insecure-dev is refused under a persistent upstream: the caller is the Unix socket's one identity.
    const file = await configFile(`${layout}-${method}`, layouts[layout], auth.yaml, bao.address, 'identity:\n  unix:\n    spiffeId: spiffe://cluster.local/ns/shop/sa/cart\n');
    const config = loadConfig({
      file,
      env: {},
      flags: { sdsListen: `unix:${dir}/${layout}-${method}-sds.sock`, httpListen: '127.0.0.1:0', adminListen: `unix:${dir}/${layout}-${method}.sock` },
    });
    const app = await startApp(config, { logger: silentLogger(), env: auth.env });
    const client = connect(app.addresses.sds!);
    try {
      const stream = XdsStream.sotw(client);
      stream.send({ node: envoyNode('ns/shop/sa/cart'), type_url: secretTypeUrl, resource_names: ['default'] });
      const secret = decodeSecret((await stream.next()).resources[0]);
      stream.cancel();
      const chain = splitPem(secret.certificateChain!);
      expect(new X509Certificate(chain[0]!).subjectAltName).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');
      expect(chain).toHaveLength(layout === 'root' ? 2 : 3); // leaf, ours[, mesh]
      const verified = await opensslVerify(secret.certificateChain!, rootPem, 'sslclient');
      expect(verified.output).toContain('OK');
      expect(verified.ok).toBe(true);

      const bundleStream = XdsStream.sotw(client);
      bundleStream.send({ node: envoyNode('ns/shop/sa/cart'), type_url: secretTypeUrl, resource_names: ['ROOTCA'] });
      const bundle = decodeSecret((await bundleStream.next()).resources[0]);
      bundleStream.cancel();
      expect(splitPem(bundle.trustedCa!).map((p) => p.trim())).toEqual([rootPem.trim()]);
    } finally {
      client.close();
      await app.close();
    }
  });

  describe('upstream check', () => {
    function capture() {
      let text = '';
      return { out: { write: (s: string) => (text += s) }, text: () => text };
    }

    it('authenticates for real before saying the credentials are accepted, then mints', async () => {
      const c = capture();
      await runUpstreamCheck({ config: await configFile('check', layouts.intermediate, auths.approle().yaml), mint: true, env: auths.approle().env, out: c.out });
      expect(c.text()).toMatch(new RegExp(`^  auth +ok +approle auth accepted by ${bao.address} \\(token TTL \\d+s, policies default,signer\\)`, 'm'));
      expect(c.text()).toMatch(/^ {2}mint +ok +intermediate valid until/m);
      expect(c.text()).not.toMatch(/Max path length/);
    });

    it('a refused token fails at the auth step, not after "accepted"', async () => {
      const c = capture();
      const err = await runUpstreamCheck({ config: await configFile('check-bad', layouts.root, 'method: token'), env: { VAULT_TOKEN: 'hvs.not-a-token' }, out: c.out }).catch((e: unknown) => e);
      expect(exitCodeOf(err)).toBe(ExitCode.UPSTREAM);
      expect(c.text()).toMatch(/^ {2}auth +FAIL vault: auth\/token\/lookup-self returned HTTP 403: permission denied/m);
      expect(c.text()).not.toMatch(/accepted|check passed/);
    });

    it('a Vault address where nothing listens is named in the failure', async () => {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const address = `https://127.0.0.1:${(probe.address() as { port: number }).port}`;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const c = capture();
      const err = await runUpstreamCheck({ config: await configFile('check-down', layouts.root, 'method: token', address), env: { VAULT_TOKEN: token }, out: c.out }).catch((e: unknown) => e);
      expect(exitCodeOf(err)).toBe(ExitCode.UPSTREAM);
      expect(c.text()).toContain(`auth     FAIL vault: cannot reach Vault at ${address} for auth/token/lookup-self: ECONNREFUSED`);
    });

    it('without caFile the server\'s TLS certificate is refused, naming the address', async () => {
      const file = path.join(dir, 'no-ca.yaml');
      await writeFile(file, `profile: dev\ntrustDomain: cluster.local\nlog:\n  level: silent\nupstream:\n  plugin: vault\n  config:\n    address: ${bao.address}\n    auth:\n      method: token\n`);
      const c = capture();
      const err = await runUpstreamCheck({ config: file, env: { VAULT_TOKEN: token }, out: c.out }).catch((e: unknown) => e);
      expect(exitCodeOf(err)).toBe(ExitCode.UPSTREAM);
      expect(c.text()).toMatch(new RegExp(`auth +FAIL vault: TLS verification of Vault at ${bao.address} failed \\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\)`));
    });
  });
});

/**
 * The vault plugin's authentication against a real OpenBao 2.7.2: token,
 * AppRole and Kubernetes logins (Kubernetes through a local server following
 * the TokenReview API), renewal and re-login at the max TTL on the server's own
 * clock, refused credentials, and a sealed server (last: it stays sealed).
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi, type TestContext } from 'vitest';
import type { VaultConfigInput } from '../../../plugins/vault/config.js';
import { hasTools } from '../../helpers/tools.js';
import { mintAndValidate, rejectionOf } from '../../fakes/mint.js';
import { KubeApiServer } from '../../identity/jwt/kube-apiserver.js';
import { kubernetesClaims, sign, signingKey } from '../../identity/jwt/fixtures.js';
import { createVault, realTime, type Harness, type PluginClock } from './harness.js';
import { OpenBao, signPolicy } from './openbao.js';

describe.runIf(hasTools('bao'))('vault plugin authentication against a real OpenBao', () => {
  let bao: OpenBao;
  let dir: string;

  beforeAll(async () => {
    bao = await OpenBao.start();
    dir = await mkdtemp(path.join(tmpdir(), 'wca-bao-auth-'));
    await bao.rootMount('pki');
    await bao.policy('signer', signPolicy('pki/root/sign-intermediate'));
    // Enabled here, not by the first bao.appRole(): the tests that make roles run side by side.
    await bao.admin('POST', 'sys/auth/approle', { type: 'approle' });
  });
  afterAll(async () => {
    await bao?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The plugin, closed when the test ends (`finished`: the test context's onTestFinished, right for concurrent tests too). */
  async function vault(finished: TestContext['onTestFinished'], auth: VaultConfigInput['auth'], env: Record<string, string> = {}, clock?: PluginClock, renewAtFraction?: number) {
    const h = await createVault({ address: bao.address, auth, ...(renewAtFraction ? { renewAtFraction } : {}) }, env, clock);
    finished(() => h.authority.close());
    return h;
  }
  const count = (h: Harness, msg: string) => h.logText().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;

  // The tests up to the Kubernetes ones run side by side: two of them wait seconds on OpenBao's
  // clock (token TTLs), and none shares a role, a token or a secret file with another. The
  // revocation test has an AppRole mount of its own, since revoke-prefix revokes every token of a
  // mount. The two clock-bound tests come first, so they start at once.
  it.concurrent('AppRole: renews on OpenBao\'s clock and logs in again once the max TTL caps the renewal', async ({ onTestFinished }) => {
    // 3 s tokens, 6 s max, renewal at 2/3 of the TTL: at 2 s the full 3 s are granted (4 s are left
    // before the max: 1 s of slack for a late renewal), at 4 s only 2 s are left → capped (by 1 s)
    // → re-login. (Renewals are at least vaultRenewMinDelayMs = 1 s apart, so the margins cannot
    // both stay at 1 s with shorter tokens.)
    const { roleId, secretId } = await bao.appRole('short', { policies: ['signer'], tokenTtl: '3s', tokenMaxTtl: '6s' });
    const h = await vault(onTestFinished, { method: 'approle', roleId }, { VAULT_APPROLE_SECRET_ID: secretId }, realTime, 2 / 3);
    await mintAndValidate(h.authority);
    // The first token was issued before this instant, so it is past its 6 s max TTL 6 s later.
    const firstTokenDeadAt = Date.now() + 6000;
    await vi.waitFor(() => expect(count(h, 'token renewed')).toBe(1), { timeout: 15_000, interval: 100 });
    await vi.waitFor(() => expect(count(h, 'authenticated')).toBe(2), { timeout: 15_000, interval: 100 });
    expect(h.logText()).toContain('token reached its max TTL');
    // The first token is past its max TTL by now (a little later, for OpenBao's clock); the new one signs.
    await new Promise((r) => setTimeout(r, Math.max(0, firstTokenDeadAt + 500 - Date.now())));
    (await mintAndValidate(h.authority)).validate();
    expect(h.logText()).not.toContain('login failed');
  });

  it.concurrent('AppRole: a token OpenBao revoked fails renewal, and the plugin logs in again instead of going dark', async ({ onTestFinished }) => {
    await bao.admin('POST', 'sys/auth/approle-revoked', { type: 'approle' });
    await bao.admin('POST', 'auth/approle-revoked/role/revoked', { token_policies: ['signer'], token_ttl: '3s', token_max_ttl: '1h' });
    const roleId = (await bao.admin('GET', 'auth/approle-revoked/role/revoked/role-id')).body.data.role_id as string;
    const secretId = (await bao.admin('POST', 'auth/approle-revoked/role/revoked/secret-id', {})).body.data.secret_id as string;
    const h = await vault(onTestFinished, { method: 'approle', mount: 'approle-revoked', roleId }, { VAULT_APPROLE_SECRET_ID: secretId }, realTime);
    await mintAndValidate(h.authority);
    await bao.admin('PUT', 'sys/leases/revoke-prefix/auth/approle-revoked/login', {});
    await vi.waitFor(() => expect(count(h, 'authenticated')).toBe(2), { timeout: 15_000, interval: 100 });
    expect(h.logText()).toContain('token renewal failed');
    (await mintAndValidate(h.authority)).validate();
  });

  it.concurrent('token: looked up, then used to sign; checkCredentials reports what OpenBao said', async ({ onTestFinished }) => {
    const token = await bao.token(['signer']);
    const h = await vault(onTestFinished, { method: 'token' }, { VAULT_TOKEN: token });
    (await mintAndValidate(h.authority)).validate();
    expect(await h.authority.checkCredentials!()).toMatch(new RegExp(`^token auth accepted by ${bao.address} \\(token TTL \\d+s, policies default,signer\\)$`));
  });

  it.concurrent('AppRole: logs in with the role and secret ID (from a file) and signs', async ({ onTestFinished }) => {
    const { roleId, secretId } = await bao.appRole('wca', { policies: ['signer'], tokenTtl: '1h', tokenMaxTtl: '2h' });
    const secretFile = path.join(dir, 'secret-id');
    await writeFile(secretFile, `${secretId}\n`);
    const h = await vault(onTestFinished, { method: 'approle', roleId, secretId: { file: secretFile } });
    (await mintAndValidate(h.authority)).validate();
    expect(h.logText()).not.toContain(secretId);
  });

  it.concurrent.for<[string, 'approle' | 'token', string, RegExp]>([
    ['a wrong AppRole secret ID', 'approle' as const, 'wrong-secret-id-55aa', /auth\/approle\/login returned HTTP 400: invalid role or secret ID|returned HTTP 400: .*secret/],
    ['an unknown token', 'token' as const, 'hvs.unknown-token-0000', /auth\/token\/lookup-self returned HTTP 403: permission denied/],
  ])('%s: ERR_UPSTREAM_AUTH, the secret in no error or log', async ([_name, method, secret, text], { onTestFinished }) => {
    const { roleId } = await bao.appRole('wca-bad', { policies: ['signer'], tokenTtl: '1h', tokenMaxTtl: '2h' });
    const h =
      method === 'approle'
        ? await vault(onTestFinished, { method, roleId }, { VAULT_APPROLE_SECRET_ID: secret })
        : await vault(onTestFinished, { method }, { VAULT_TOKEN: secret });
    const err = await rejectionOf(mintAndValidate(h.authority));
    expect(err.code).toBe('ERR_UPSTREAM_AUTH');
    expect(err.message).toMatch(text);
    for (const t of [err.message, JSON.stringify(err), String(err.stack), h.logText()]) expect(t).not.toContain(secret);
  });

  it.concurrent.for<[string, VaultConfigInput['auth'], string]>([
    ['environment variable', { method: 'token' } as const, 'config.auth.token.env: environment variable VAULT_TOKEN is not set'],
    ['file', { method: 'approle', roleId: 'r', secretId: { file: '/nonexistent/secret-id' } } as const, 'config.auth.secretId.file: cannot read /nonexistent/secret-id (ENOENT)'],
  ])('a missing secret (%s) is ERR_UPSTREAM_CONFIG naming the field', async ([_name, auth, message], { onTestFinished }) => {
    const h = await vault(onTestFinished, auth);
    const err = await rejectionOf(mintAndValidate(h.authority));
    expect(err.code).toBe('ERR_UPSTREAM_CONFIG');
    expect(err.message).toContain(message);
  });

  describe('Kubernetes', () => {
    const reviewer = 'reviewer-token-7f3a';
    let kube: KubeApiServer;
    let jwt: string;
    beforeAll(async () => {
      kube = await new KubeApiServer(reviewer).start();
      const key = await signingKey('sa');
      jwt = await sign(key, kubernetesClaims('ca', 'workload-ca', Math.floor(Date.now() / 1000)));
      const claims = kubernetesClaims('ca', 'workload-ca', 0)['kubernetes.io'] as { serviceaccount: { uid: string } };
      kube.users.set(jwt, { username: 'system:serviceaccount:ca:workload-ca', uid: claims.serviceaccount.uid, audiences: ['https://kubernetes.default.svc.cluster.local', 'workload-ca'] });
      await bao.admin('POST', 'sys/auth/kubernetes', { type: 'kubernetes' });
      await bao.admin('POST', 'auth/kubernetes/config', {
        kubernetes_host: kube.url, kubernetes_ca_cert: kube.caPem, token_reviewer_jwt: reviewer, disable_local_ca_jwt: true,
      });
      await bao.admin('POST', 'auth/kubernetes/role/workload-ca', {
        bound_service_account_names: ['workload-ca'], bound_service_account_namespaces: ['ca'], token_policies: ['signer'], token_ttl: '1h',
      });
    });
    afterAll(async () => {
      await kube?.stop();
    });

    it('logs in with the service account JWT read from its file; OpenBao asked the TokenReview API', async ({ onTestFinished }) => {
      const jwtFile = path.join(dir, 'sa-token');
      await writeFile(jwtFile, jwt);
      const h = await vault(onTestFinished, { method: 'kubernetes', role: 'workload-ca', jwtFile });
      (await mintAndValidate(h.authority)).validate();
      expect(kube.requests.at(-1)).toMatchObject({ authorization: `Bearer ${reviewer}`, body: { spec: { token: jwt } } });
      expect(h.logText()).not.toContain(jwt);
    });

    it('a JWT the TokenReview rejects: ERR_UPSTREAM_AUTH without the JWT', async ({ onTestFinished }) => {
      const other = await sign(await signingKey('other'), kubernetesClaims('ca', 'workload-ca', Math.floor(Date.now() / 1000)));
      const jwtFile = path.join(dir, 'bad-sa-token');
      await writeFile(jwtFile, other);
      const h = await vault(onTestFinished, { method: 'kubernetes', role: 'workload-ca', jwtFile });
      const err = await rejectionOf(mintAndValidate(h.authority));
      expect(err.code).toBe('ERR_UPSTREAM_AUTH');
      expect(err.message).toContain('auth/kubernetes/login returned HTTP 403');
      expect(err.message + JSON.stringify(err) + h.logText()).not.toContain(other);
    });
  });

  // Last: the server stays sealed.
  it('a sealed server: ERR_UPSTREAM_UNAVAILABLE with OpenBao\'s reason, for mint and credential check', async ({ onTestFinished }) => {
    const h = await vault(onTestFinished, { method: 'token' }, { VAULT_TOKEN: await bao.token(['signer']) });
    await bao.seal();
    const err = await rejectionOf(mintAndValidate(h.authority));
    expect(err.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(err.message).toMatch(/returned HTTP 503: .*sealed/i);
    expect((await rejectionOf(h.authority.checkCredentials!())).code).toBe('ERR_UPSTREAM_UNAVAILABLE');
  });
});

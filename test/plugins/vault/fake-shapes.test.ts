/**
 * Keeps the FakeVaultServer honest: the same requests go to a real OpenBao
 * 2.7.2 and to the fake, and the fake's answers must have the real shape (every
 * field the fake sends exists in the real answer with the same JSON type), the
 * same status, the same error texts and warnings, and the real ca_chain order.
 * A fake written from a reading of the docs hid the ca_chain order once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaCsr } from '../../fakes/upstream-ca.js';
import type { FakeVaultServer } from '../../fakes/vault-server.js';
import { hasTools } from '../../helpers/tools.js';
import { useVaultSuite } from './harness.js';
import { httpCall, OpenBao, signPolicy, type BaoAnswer, type CallOptions } from './openbao.js';

type Shape = string | Shape[] | { [key: string]: Shape };

/** JSON types, recursively; arrays by their first element. */
function shape(value: unknown): Shape {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, shape(v)]));
  return typeof value;
}

/** `fake` restricted to what it has must equal `real` restricted the same way: nothing invented, nothing mistyped. */
function restrictTo(real: Shape, fake: Shape): Shape {
  if (typeof real === 'object' && !Array.isArray(real) && typeof fake === 'object' && !Array.isArray(fake)) {
    return Object.fromEntries(Object.keys(fake).map((k) => [k, k in real ? restrictTo(real[k]!, fake[k]!) : 'MISSING IN REAL ANSWER']));
  }
  if (Array.isArray(real) && Array.isArray(fake) && real.length > 0 && fake.length > 0) return [restrictTo(real[0]!, fake[0]!)];
  return real;
}

describe.runIf(hasTools('bao'))('the FakeVaultServer answers like a real OpenBao 2.7.2', () => {
  const suite = useVaultSuite();
  let bao: OpenBao;
  let fake: FakeVaultServer;
  let csrPem: string;
  const real = { token: '', denied: '', roleId: '', secretId: '' };
  const faked = { token: '', denied: '' };

  beforeAll(async () => {
    bao = await OpenBao.start();
    await bao.rootMount('pki');
    await bao.rootMount('capped');
    await bao.admin('POST', 'sys/mounts/capped/tune', { max_lease_ttl: '1800s' });
    await bao.policy('signer', signPolicy('pki/root/sign-intermediate') + signPolicy('pki/issuer/+/sign-intermediate') + signPolicy('capped/root/sign-intermediate'));
    await bao.policy('reader', 'path "pki/cert/*" { capabilities = ["read"] }');
    real.token = await bao.token(['signer']);
    real.denied = await bao.token(['reader']);
    Object.assign(real, await bao.appRole('wca', { policies: ['signer'], tokenTtl: '1h', tokenMaxTtl: '2h' }));
    csrPem = (await createCaCsr('cluster.local')).csrPem;
  });
  afterAll(async () => {
    await bao?.stop();
  });

  async function startFake(options: Parameters<typeof suite.startServer>[0] = {}) {
    fake = await suite.startServer({
      approle: { roleId: real.roleId, secretId: real.secretId, tokenTtlSeconds: 3600, tokenMaxTtlSeconds: 7200 },
      ...options,
    });
    faked.token = fake.addToken();
    faked.denied = fake.addToken({ canSign: false });
  }

  async function both(method: string, path: string, body: unknown, realOptions: CallOptions, fakeOptions: CallOptions): Promise<[BaoAnswer, BaoAnswer]> {
    return [await bao.call(method, path, body, realOptions), await httpCall(fake.url, method, path, body, fakeOptions)];
  }

  function expectSameShape(r: BaoAnswer, f: BaoAnswer) {
    expect(f.status).toBe(r.status);
    expect(restrictTo(shape(r.body), shape(f.body))).toEqual(shape(f.body));
  }

  const signBody = (ttl: string) => ({ csr: csrPem, common_name: 'cluster.local intermediate', uri_sans: 'spiffe://cluster.local', ttl, format: 'pem', max_path_length: 0, exclude_cn_from_sans: true, use_csr_values: false });

  it('sign-intermediate: envelope, data types, warnings, and ca_chain = [ours, …issuer chain]', async () => {
    await startFake();
    const [r, f] = await both('POST', 'pki/root/sign-intermediate', signBody('3600s'), { token: real.token }, { token: faked.token });
    expectSameShape(r, f);
    expect(f.body.warnings).toEqual(r.body.warnings);
    for (const answer of [r, f]) expect(answer.body.data.ca_chain[0]).toBe(answer.body.data.certificate);
  });

  it('sign-intermediate above the mount max TTL: the same clamp warning', async () => {
    await startFake({ pkiMount: 'capped', maxTtlSeconds: 1800 });
    const [r, f] = await both('POST', 'capped/root/sign-intermediate', signBody('3600s'), { token: real.token }, { token: faked.token });
    expectSameShape(r, f);
    expect(f.body.warnings).toEqual(r.body.warnings);
  });

  it.each([
    ['a token without the sign capability', 'pki/root/sign-intermediate', 'denied'],
    ['an unknown issuer', 'pki/issuer/nope/sign-intermediate', 'token'],
  ] as const)('sign-intermediate refused (%s): same status and error text', async (_name, path, who) => {
    await startFake();
    const [r, f] = await both('POST', path, signBody('3600s'), { token: real[who] }, { token: faked[who] });
    expect(f.status).toBe(r.status);
    expect(f.body).toEqual(r.body);
  });

  it.each([
    ['pki/cert/ca_chain', undefined],
    ['pki/issuer/default/json', undefined],
    ['pki/issuer/nope/json', undefined],
    ['sys/internal/ui/mounts', undefined],
    ['sys/internal/ui/mounts', 'no-such-namespace'],
  ] as const)('GET %s (namespace %s), unauthenticated: same shape', async (path, namespace) => {
    await startFake();
    const [r, f] = await both('GET', path, undefined, { namespace }, { namespace });
    expectSameShape(r, f);
    if (r.status !== 200) expect(f.body).toEqual(r.body);
  });

  it('token lookup-self and renew-self: same shape', async () => {
    await startFake();
    const [r, f] = await both('GET', 'auth/token/lookup-self', undefined, { token: real.token }, { token: faked.token });
    expectSameShape(r, f);
    const [rr, fr] = await both('POST', 'auth/token/renew-self', {}, { token: real.token }, { token: faked.token });
    expectSameShape(rr, fr);
  });

  it('AppRole login, good and bad secret ID: same shape, same refusal', async () => {
    await startFake();
    const [r, f] = await both('POST', 'auth/approle/login', { role_id: real.roleId, secret_id: real.secretId }, {}, {});
    expectSameShape(r, f);
    const [rb, fb] = await both('POST', 'auth/approle/login', { role_id: real.roleId, secret_id: 'wrong' }, {}, {});
    expect(fb.status).toBe(rb.status);
    expect(fb.body).toEqual(rb.body);
  });
});

import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../../src/errors.js';
import { JoinTokenAuthenticator } from '../../../src/identity/join-token/authenticator.js';
import { JoinTokenStore } from '../../../src/identity/join-token/store.js';
import type { CallerContext } from '../../../src/identity/types.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const ID = 'spiffe://cluster.local/vm/db-1';
const context = (authorization?: string, peer = '10.0.0.7:40000', nodeId = 'vm-db-1'): CallerContext => ({
  transport: 'tcp',
  peerAddress: peer,
  metadata: new Map(authorization === undefined ? [] : [['authorization', [authorization]]]),
  node: { id: nodeId, cluster: 'vm' },
});

function setup(reuseWindowSeconds = 0) {
  const clock = new FakeClock();
  const store = new JoinTokenStore('cluster.local', clock, { maxTtlSeconds: 3600, reuseWindowSeconds });
  return { clock, store, auth: new JoinTokenAuthenticator(store) };
}

async function denial(auth: JoinTokenAuthenticator, token: string, ctx = context(`Bearer ${token}`)) {
  const err = await auth.authenticate(ctx).catch((e: unknown) => e);
  if (!isWcaError(err, 'ERR_UNAUTHENTICATED')) throw new Error(`expected ERR_UNAUTHENTICATED, got ${String(err)}`);
  expect(err.message).not.toContain(token);
  return err;
}

describe('join tokens', () => {
  it('authenticates a machine, bound to the token’s SPIFFE ID and DNS names', async () => {
    const { store, auth } = setup();
    const created = await store.create({ spiffeId: ID, dnsNames: ['DB-1.vm.internal'], ttlSeconds: 600 });
    expect(created.token).toMatch(/^wcajt_[A-Za-z0-9_-]{43}$/);
    expect(created.token).not.toContain(created.id);
    expect(await store.outstanding()).toBe(1);
    const caller = await auth.authenticate(context(`Bearer ${created.token}`));
    expect(caller).toEqual({
      authenticator: 'join-token',
      subject: `join-token:${created.id}`,
      claims: { tokenId: created.id, dnsNames: ['db-1.vm.internal'] },
      boundSpiffeId: ID,
      instance: `join-token:${created.id}`,
    });
    expect(await store.outstanding()).toBe(0);
  });

  it('rejects a reused token', async () => {
    const { store, auth } = setup();
    const { token, id } = await store.create({ spiffeId: ID, ttlSeconds: 600 });
    await auth.authenticate(context(`Bearer ${token}`));
    const err = await denial(auth, token);
    expect(err.message).toBe(`join token ${id} was already used`);
    expect(err.details.reason).toBe('used');
  });

  it('lets the same Envoy open its other first streams on its connection within the reuse window, and nobody else', async () => {
    const { clock, store, auth } = setup(30);
    const { token } = await store.create({ spiffeId: ID, ttlSeconds: 600 });
    expect(await auth.authenticate(context(`Bearer ${token}`, '10.0.0.7:40000'))).toMatchObject({ boundSpiffeId: ID });
    // Envoy's ROOTCA stream: same connection, same node.
    expect(await auth.authenticate(context(`Bearer ${token}`, '10.0.0.7:40000'))).toMatchObject({ boundSpiffeId: ID });
    // Same host, another connection (a neighbour copying the node.id); another host; another node.
    await denial(auth, token, context(`Bearer ${token}`, '10.0.0.7:40002'));
    await denial(auth, token, context(`Bearer ${token}`, '10.0.0.8:40000'));
    await denial(auth, token, context(`Bearer ${token}`, '10.0.0.7:40000', 'another-node'));
    await denial(auth, token, { ...context(`Bearer ${token}`), node: { id: 'vm-db-1', cluster: 'another-cluster' } });
    clock.advance(30_001);
    expect((await denial(auth, token)).details.reason).toBe('used');
  });

  it('lets exactly one of many concurrent machines spend a token', async () => {
    const { store, auth } = setup(30);
    const { token } = await store.create({ spiffeId: ID, ttlSeconds: 600 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => auth.authenticate(context(`Bearer ${token}`, `10.0.1.${i}:40000`, `node-${i}`))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('rejects an expired token', async () => {
    const { clock, store, auth } = setup();
    const { token, id } = await store.create({ spiffeId: ID, ttlSeconds: 60 });
    clock.advance(60_001);
    const err = await denial(auth, token);
    expect(err.message).toBe(`join token ${id} expired at 2026-01-01T00:01:00.000Z`);
    expect(await store.outstanding()).toBe(0);
  });

  it('rejects a made-up token with the join-token prefix', async () => {
    const { auth } = setup();
    expect((await denial(auth, 'wcajt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).message).toBe('join token is unknown');
  });

  it('ignores JWTs and absent credentials', async () => {
    const { auth } = setup();
    expect(await auth.authenticate(context())).toBeNull();
    expect(await auth.authenticate(context('Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig'))).toBeNull();
  });

  it.each([
    ['a SPIFFE ID of another trust domain', { spiffeId: 'spiffe://evil.org/vm/db-1', ttlSeconds: 60 }, 'ERR_TRUST_DOMAIN_MISMATCH'],
    ['a malformed SPIFFE ID', { spiffeId: 'spiffe://cluster.local/vm/../admin', ttlSeconds: 60 }, 'ERR_SPIFFE_ID_INVALID'],
    ['a bad DNS name', { spiffeId: ID, dnsNames: ['bad_name'], ttlSeconds: 60 }, 'ERR_DNS_NAME_INVALID'],
    ['a TTL of zero', { spiffeId: ID, ttlSeconds: 0 }, 'ERR_TTL_INVALID'],
    ['a TTL above the maximum', { spiffeId: ID, ttlSeconds: 3601 }, 'ERR_TTL_INVALID'],
  ] as const)('refuses to create a token for %s', async (_name, request, code) => {
    const { store } = setup();
    await expect(store.create(request)).rejects.toMatchObject({ code });
    expect(await store.outstanding()).toBe(0);
  });
});

import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ListenAddress } from '../../src/net/listen-address.js';
import { isWcaError } from '../../src/errors.js';
import { InsecureDevAuthenticator, spiffeIdForNodeId } from '../../src/identity/insecure-dev.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const loopback: ListenAddress = { kind: 'tcp', host: '127.0.0.1', port: 8234 };
const td = 'cluster.local';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return isWcaError(err) ? err.code : String(err);
  }
}

describe('insecure-dev node.id mapping', () => {
  it.each([
    { nodeId: 'ns/shop/sa/cart', expected: 'spiffe://cluster.local/ns/shop/sa/cart' },
    { nodeId: '/ns/shop/sa/cart', expected: 'spiffe://cluster.local/ns/shop/sa/cart' },
    { nodeId: 'spiffe://cluster.local/vm/db-1', expected: 'spiffe://cluster.local/vm/db-1' },
    { nodeId: 'envoy-1', expected: 'spiffe://cluster.local/envoy-1' },
  ])('$nodeId → $expected', ({ nodeId, expected }) => {
    expect(spiffeIdForNodeId(nodeId, td)).toBe(expected);
  });

  it.each([
    { nodeId: 'ns/../etc', code: 'ERR_SPIFFE_ID_INVALID' },
    { nodeId: 'ns//x', code: 'ERR_SPIFFE_ID_INVALID' },
    { nodeId: 'has space', code: 'ERR_SPIFFE_ID_INVALID' },
    { nodeId: 'spiffe://other.domain/x', code: 'ERR_TRUST_DOMAIN_MISMATCH' },
  ])('rejects $nodeId with $code', ({ nodeId, code }) => {
    expect(codeOf(() => spiffeIdForNodeId(nodeId, td))).toBe(code);
  });
});

describe('InsecureDevAuthenticator', () => {
  it.each([
    { profile: 'production' as const, listen: loopback, code: 'ERR_CONFIG_INVALID' },
    { profile: 'dev' as const, listen: { kind: 'tcp' as const, host: '0.0.0.0', port: 1 }, code: 'ERR_CONFIG_INVALID' },
    { profile: 'dev' as const, listen: loopback, code: 'ok' },
    { profile: 'dev' as const, listen: { kind: 'unix' as const, path: '/tmp/s' }, code: 'ok' },
  ])('exists only in dev on loopback ($profile)', ({ profile, listen, code }) => {
    expect(codeOf(() => new InsecureDevAuthenticator({ profile, listen, trustDomain: td, logger: silentLogger() }))).toBe(code);
  });

  it('warns loudly when created', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    new InsecureDevAuthenticator({ profile: 'dev', listen: loopback, trustDomain: td, logger: pino(sink) });
    expect(lines.join('')).toMatch(/"level":40.*INSECURE/);
  });

  const auth = new InsecureDevAuthenticator({ profile: 'dev', listen: loopback, trustDomain: td, logger: silentLogger() });

  it('binds the caller to the ID its node.id names', async () => {
    const caller = await auth.authenticate({ transport: 'tcp', peerAddress: '127.0.0.1:5000', metadata: new Map(), node: { id: 'ns/a/sa/b', cluster: 'c' } });
    expect(caller?.boundSpiffeId).toBe('spiffe://cluster.local/ns/a/sa/b');
  });

  it.each(['[::1]:5000', '::1:5000'])('accepts IPv6 loopback peer %s', async (peerAddress) => {
    const caller = await auth.authenticate({ transport: 'tcp', peerAddress, metadata: new Map(), node: { id: 'x', cluster: '' } });
    expect(caller).not.toBeNull();
  });

  it('returns null without a node.id and refuses non-loopback peers', async () => {
    expect(await auth.authenticate({ transport: 'tcp', peerAddress: '127.0.0.1:1', metadata: new Map() })).toBeNull();
    await expect(
      auth.authenticate({ transport: 'tcp', peerAddress: '10.0.0.5:1', metadata: new Map(), node: { id: 'x', cluster: '' } }),
    ).rejects.toThrow(/loopback/);
  });
});

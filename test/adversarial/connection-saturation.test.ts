import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import type { Authority } from '../../src/ca/authority.js';
import { ServingState } from '../../src/telemetry/serving-state.js';
import { startHarness, trustDomain } from '../sds/harness.js';

/**
 * Issue #11 F3: while the SDS TLS listener's connection cap is full, new connections are
 * closed at once. Readiness stays 200 (pulling it would let anyone drain every replica
 * from the Service), but /readyz?verbose and the metrics say so.
 */

let authority: Authority;
beforeAll(async () => {
  authority = await createDevAuthority({ trustDomain, signers: 1 });
});
afterAll(() => authority.close());

const max = 3;

describe('SDS connection cap saturated', () => {
  it('stays ready, and says "connection cap saturated: 3/3" in the sds check detail and in wca_sds_connections / wca_sds_connection_cap', async () => {
    const serving = new ServingState(() => ({ state: 'ready' }), ['sds']);
    const h = await startHarness({ authority, transport: 'tls', health: serving, config: { connections: { max } } });
    onTestFinished(() => h.close());
    serving.attach('sds', () => h.server.accepting(), () => h.server.saturation());
    const scrape = async () => h.metrics.registry.metrics();
    const port = Number(h.server.address.slice(h.server.address.lastIndexOf(':') + 1));

    expect(serving.report().checks).toContainEqual({ name: 'sds', ok: true, detail: 'accepting connections' });
    expect(await scrape()).toMatch(/^wca_sds_connection_cap 3$/m);

    // Raw TCP connections that never start a handshake: counted from the accept.
    const sockets = Array.from({ length: max }, () => net.connect({ host: '127.0.0.1', port }).on('error', () => undefined));
    onTestFinished(() => sockets.forEach((s) => s.destroy()));
    await expect.poll(() => h.server.saturation()).toBe(`connection cap saturated: ${max}/${max}`);

    const report = serving.report();
    expect(report.state).toBe('ready');
    expect(report.checks).toContainEqual({ name: 'sds', ok: true, detail: `accepting connections (connection cap saturated: ${max}/${max})` });
    const text = await scrape();
    expect(text).toMatch(/^wca_sds_connections\{state="open"\} 3$/m);
    expect(text).toMatch(/^wca_sds_connection_cap 3$/m);

    sockets.forEach((s) => s.destroy());
    await expect.poll(() => h.server.saturation()).toBeUndefined();
    expect(serving.report().checks).toContainEqual({ name: 'sds', ok: true, detail: 'accepting connections' });
  });
});

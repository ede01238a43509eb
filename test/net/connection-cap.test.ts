import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { capConnections, connectionKey } from '../../src/net/connection-cap.js';

/** Issue #11 F2: the per-address connection cap counts an IPv6 /64 as one address, as the SDS stream limits do. */

describe('connectionKey', () => {
  it('groups IPv6 addresses by /64 and keeps IPv4, IPv4-mapped and Unix peers apart', () => {
    const key = (remoteAddress?: string) => connectionKey({ remoteAddress });
    expect(key('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(key('2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe(key('2001:db8:1:2::1'));
    expect(key('2001:db8:1:3::1')).not.toBe(key('2001:db8:1:2::1'));
    expect(key('::1')).toBe('0:0:0:0::/64');
    expect(key('10.0.0.7')).toBe('10.0.0.7');
    expect(key('10.0.0.8')).not.toBe(key('10.0.0.7'));
    expect(key('::ffff:10.0.0.7')).toBe('::ffff:10.0.0.7');
    expect(key(undefined)).toBe('unix');
  });
});

async function ipv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

describe.runIf(await ipv6Loopback())('capConnections over real IPv6 loopback', () => {
  it('counts ::1 connections under its /64 and refuses past perAddress', async () => {
    const server = net.createServer(() => undefined);
    const refused: string[] = [];
    const capped = capConnections(server, { perAddress: 2, max: 100 }, (address) => refused.push(address));
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    onTestFinished(() => {
      capped.destroyAll();
      server.close();
    });
    const port = (server.address() as net.AddressInfo).port;
    const clients = Array.from({ length: 3 }, () => net.connect({ host: '::1', port }).on('error', () => undefined));
    onTestFinished(() => clients.forEach((c) => c.destroy()));
    await expect.poll(() => refused).toEqual(['0:0:0:0::/64']);
    expect(capped.count()).toBe(2);
  });
});

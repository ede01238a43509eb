import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { shownValue } from '../unsafe-text.js';

export type ListenAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

/** "host:port", "[v6]:port" or "unix:/path". */
export function parseListenAddress(value: string): ListenAddress | string {
  if (value.startsWith('unix:')) {
    const path = value.slice(5);
    return path.startsWith('/') ? { kind: 'unix', path } : 'unix socket path must be absolute (unix:/path)';
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  if (!m) return 'expected host:port or unix:/absolute/path';
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} is out of range`;
  const host = m[1]!.replace(/^\[|\]$/g, '');
  // Bound as the literal, so what is checked (isLoopback) is what is bound, whatever /etc/hosts or DNS say.
  return { kind: 'tcp', host: host.toLowerCase() === 'localhost' ? '127.0.0.1' : host, port };
}

export const listenAddress = z.string().transform((value, ctx) => {
  const parsed = parseListenAddress(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: `"${shownValue(value)}": ${parsed}` });
    return z.NEVER;
  }
  return parsed;
});

export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * True for a Unix socket or an IP literal in 127.0.0.0/8 or ::1. A host name never
 * is ("127.0.0.1.nip.io" resolves wherever its owner likes); parseListenAddress has
 * already turned "localhost" into 127.0.0.1.
 */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  const family = isIP(address.host);
  return family !== 0 && loopback.check(address.host, family === 4 ? 'ipv4' : 'ipv6');
}

/** The address to ask a server listening on `host` at: a wildcard is asked on loopback. */
export const localHost = (host: string): string => (host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host);

import { z } from 'zod';

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
  return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export const listenAddress = z.string().transform((value, ctx) => {
  const parsed = parseListenAddress(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: `"${value}": ${parsed}` });
    return z.NEVER;
  }
  return parsed;
});

export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  return address.host === 'localhost' || address.host === '::1' || /^127\./.test(address.host);
}

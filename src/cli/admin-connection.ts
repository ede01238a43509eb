import { readFileSync } from 'node:fs';
import { connectAdmin, connectAdminTcp, type AdminClient } from '../admin/client.js';
import { WcaError } from '../errors.js';
import { parseListenAddress } from '../net/listen-address.js';
import { adminSocketPath, type AdminFlags } from './admin-socket.js';

/** A client of the admin API: over TCP with mutual TLS when --server is given, else on the Unix socket. */
export function connectAdminFrom(flags: AdminFlags): AdminClient {
  if (flags.server === undefined) return connectAdmin(adminSocketPath(flags.adminSocket));
  const address = parseListenAddress(flags.server);
  if (typeof address === 'string' || address.kind !== 'tcp') throw new WcaError('ERR_USAGE', `--server "${flags.server.slice(0, 256)}" must be host:port`);
  const read = (flag: 'cert' | 'key' | 'ca') => {
    const file = flags[flag];
    if (file === undefined) throw new WcaError('ERR_USAGE', `--server needs --${flag} (mutual TLS: --cert, --key and --ca)`);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new WcaError('ERR_USAGE', `--${flag} ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  return connectAdminTcp({ address: flags.server, caPem: read('ca'), certPem: read('cert'), keyPem: read('key') });
}

/** Runs fn with a client of the admin API the flags name, closing it afterwards. */
export async function withAdmin<T>(flags: AdminFlags, fn: (client: AdminClient) => Promise<T>): Promise<T> {
  const client = connectAdminFrom(flags);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

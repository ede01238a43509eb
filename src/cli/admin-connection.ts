import { connectAdmin, type AdminClient } from '../admin/client.js';
import { adminSocketPath } from './admin-socket.js';

/** Runs fn with a client of the admin API at `address` (unix:/path only), closing it afterwards. */
export async function withAdmin<T>(address: string, fn: (client: AdminClient) => Promise<T>): Promise<T> {
  const client = connectAdmin(adminSocketPath(address));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

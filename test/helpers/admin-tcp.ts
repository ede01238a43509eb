import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import type { AdminTcpOptions } from '../../src/admin/tcp-listener.js';
import { AuditLog } from '../../src/audit/log.js';
import type { Authority } from '../../src/ca/authority.js';
import { systemClock } from '../../src/clock.js';
import { createDevAuthority } from '../../src/app/dev-authority.js';
import { JoinTokenStore } from '../../src/identity/join-token/store.js';
import { ConvergenceTracker } from '../../src/sds/convergence.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { OpensslWorkbench, type OpensslCert } from './openssl-ca.js';

/** An admin server with admin.tcp on 127.0.0.1 over a real authority; the caller issues client certificates from `clientCa`. */
export interface TcpAdminLab {
  bench: OpensslWorkbench;
  /** A temporary directory (the admin socket lives here); removed by close(). */
  dir: string;
  /** The root of the server's certificate: the clients' --ca. */
  serverRoot: OpensslCert;
  /** admin.tcp.tls.clientCaFile. */
  clientCa: OpensslCert;
  audit: AuditLog;
  authority: Authority;
  admin: AdminServer;
  close(): Promise<void>;
}

export async function startTcpAdminLab(options: { allow: string[]; connections: AdminTcpOptions['connections'] }): Promise<TcpAdminLab> {
  const bench = await OpensslWorkbench.open();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wca-admin-tcp-'));
  const serverRoot = await bench.root('/CN=admin server root');
  const serverCert = await bench.issue(
    serverRoot,
    '/CN=workload-ca admin',
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n',
  );
  const clientCa = await bench.root('/CN=admin client CA');
  const audit = new AuditLog({ clock: systemClock });
  const authority = await createDevAuthority({ audit, signers: 1 });
  const logger = silentLogger();
  const admin = await startAdminServer({
    joinTokens: new JoinTokenStore('cluster.local', new FakeClock(), { maxTtlSeconds: 3600 }),
    logger,
    listen: { kind: 'unix', path: path.join(dir, 'admin.sock') },
    audit,
    authority: { authority, convergence: new ConvergenceTracker({ clock: systemClock }), audit, upstream: { name: 'self-signed' }, clock: systemClock, logger },
    tcp: {
      host: '127.0.0.1',
      port: 0,
      certPem: serverCert.certPem,
      keyPem: serverCert.keyPem,
      clientCaPem: clientCa.certPem,
      allow: options.allow,
      connections: options.connections,
    },
  });
  return {
    bench,
    dir,
    serverRoot,
    clientCa,
    audit,
    authority,
    admin,
    async close() {
      await admin.close();
      await authority.close();
      await bench.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

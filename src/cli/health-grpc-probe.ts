/** `workload-ca healthcheck --grpc`: grpc.health.v1 Check of the SDS service on the SDS listener. */
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import { formatListenAddress, localHost } from '../net/listen-address.js';
import { checkHealth } from '../sds/health-client.js';
import { sdsServiceName } from '../sds/protos.js';
import { resolveSdsTransport } from '../transport/sds-transport.js';

/**
 * grpc.health.v1 Check of the SDS service on the SDS listener, over its transport.
 * Over TLS the server's certificate is not verified: the probe has no trust bundle,
 * sends nothing, and an impostor could only make it report healthy, as anyone on the
 * port could for an HTTP probe.
 */
export async function grpcProbe(config: Config, timeoutMs: number): Promise<{ address: string; service: string; status: string; line: string }> {
  const listen = config.listen.sds;
  const transport = resolveSdsTransport(config.sds.transport, config.profile, listen);
  const where = listen.kind === 'unix' ? `unix:${listen.path}` : `dns:${listen.host.includes(':') ? `[${localHost(listen.host)}]` : localHost(listen.host)}:${listen.port}`;
  const tls = transport === 'tls' || transport === 'mtls';
  const credentials = tls ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false }) : grpc.credentials.createInsecure();
  // The listener is an IP address; sent as the TLS server name it draws Node's DEP0123 warning
  // on every probe (RFC 6066 allows only host names there), noise in a container's health log.
  const options = tls ? { 'grpc.ssl_target_name_override': 'workload-ca' } : {};
  const status = await checkHealth(where, credentials, sdsServiceName, timeoutMs, options);
  const address = formatListenAddress(listen);
  return { address, service: sdsServiceName, status, line: `grpc.health.v1 Check ${address} ${sdsServiceName}: ${status}` };
}

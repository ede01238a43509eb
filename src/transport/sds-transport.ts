import { formatListenAddress, isLoopback, type ListenAddress } from '../net/listen-address.js';
import { WcaError } from '../errors.js';

export type ResolvedTransport = 'mtls' | 'tls' | 'plaintext' | 'unix';

/**
 * Which security a listener gets. Unix sockets rely on their file mode. TCP
 * defaults to TLS, or plaintext in the dev profile on loopback; plaintext
 * anywhere else is a configuration error, never a silent downgrade.
 */
export function resolveSdsTransport(
  requested: 'mtls' | 'tls' | 'plaintext' | undefined,
  profile: 'dev' | 'production',
  listen: ListenAddress,
): ResolvedTransport {
  if (listen.kind === 'unix') return 'unix';
  const devLoopback = profile === 'dev' && isLoopback(listen);
  const transport = requested ?? (devLoopback ? 'plaintext' : 'tls');
  if (transport === 'plaintext' && !devLoopback) {
    throw new WcaError(
      'ERR_CONFIG_INVALID',
      `sds.transport: plaintext is allowed only with profile: dev on a loopback address, not ${profile} on ${formatListenAddress(listen)}; use tls or mtls`,
      { details: { field: 'sds.transport' } },
    );
  }
  return transport;
}

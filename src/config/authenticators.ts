import type { Config } from './schema.js';

/** Authenticators whose credential travels in the request (metadata, node.id), not in the TLS handshake. */
const requestCredentialAuthenticators = ['join-token', 'jwt', 'tokenreview', 'insecure-dev'];

/** The authenticators this config can run, in the default order (real credentials before insecure-dev). */
export function availableAuthenticators(config: Config): string[] {
  const id = config.identity;
  return [
    ...(config.listen.sds.kind === 'unix' && id.unix ? ['unix'] : []),
    'mtls',
    'join-token',
    ...(id.jwt ? ['jwt'] : []),
    ...(id.tokenReview ? ['tokenreview'] : []),
    ...(insecureDevAllowed(config) ? ['insecure-dev'] : []),
  ];
}

/**
 * insecure-dev hands out any SPIFFE ID a node.id names, with no proof. Only with
 * the throw-away `self-signed` upstream: under a persistent root (disk, Vault, a
 * cloud CA) its certificates would be trusted by everything that trusts that root.
 */
export function insecureDevAllowed(config: Pick<Config, 'profile' | 'upstream'>): boolean {
  return config.profile === 'dev' && config.upstream.plugin === 'self-signed';
}

/**
 * The SDS listener's authenticators, in order, and what is wrong with an explicit
 * `sds.authenticators` list. Pure, so config load reports problems before anything
 * starts. On an mtls listener a presented client certificate must be judged before
 * any token: otherwise a caller whose certificate fails would be served on the
 * strength of a token sent alongside it.
 */
export function selectAuthenticators(config: Config): { names: string[]; problems: string[] } {
  const available = availableAuthenticators(config);
  const names = config.sds.authenticators ?? available;
  const problems: string[] = [];
  for (const name of names) {
    if (!available.includes(name)) {
      problems.push(
        `sds.authenticators: "${name}" is not available here (configured: ${available.join(', ')}; ` +
          'jwt and tokenreview need identity.jwt / identity.tokenReview, unix needs a unix: SDS listener and identity.unix, ' +
          `insecure-dev the dev profile with upstream.plugin self-signed, not "${config.upstream.plugin}")`,
      );
    }
  }
  const mtlsAt = names.indexOf('mtls');
  const before = names.slice(0, Math.max(mtlsAt, 0)).filter((name) => requestCredentialAuthenticators.includes(name));
  if (mtlsAt >= 0 && before.length > 0) {
    problems.push(`sds.authenticators: mtls must come before ${before.join(', ')}, so a presented client certificate is always checked first`);
  }
  if (mtlsAt < 0 && config.sds.transport === 'mtls' && config.listen.sds.kind === 'tcp') {
    problems.push('sds.authenticators: sds.transport mtls asks clients for certificates, so mtls must be listed (or use sds.transport: tls)');
  }
  return { names, problems };
}

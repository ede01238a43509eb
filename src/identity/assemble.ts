import type { Config } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import { WcaError } from '../errors.js';
import type { Authenticator, Policy } from './types.js';
import { InsecureDevAuthenticator } from './insecure-dev.js';
import { UnixAuthenticator } from './unix.js';
import { MtlsAuthenticator } from './mtls.js';
import { JoinTokenStore } from './join-token/store.js';
import { JoinTokenAuthenticator } from './join-token/authenticator.js';
import { JwtAuthenticator } from './jwt/authenticator.js';
import { TokenReviewAuthenticator } from './jwt/tokenreview.js';
import { rulePolicyWithBuiltins } from './policy/builtin.js';
import type { LeafIssuer } from '../ca/types.js';

export interface IdentitySetup {
  authenticators: Authenticator[];
  policy: Policy;
  joinTokens: JoinTokenStore;
}

/**
 * Builds the SDS listener's authenticators and policy from config. Order decides
 * (first credential present wins), so real credentials come before insecure-dev.
 */
export function assembleIdentity(
  config: Config,
  deps: { issuer: LeafIssuer & { intermediatesPem(): string[] }; clock: Clock; logger: Logger },
): IdentitySetup {
  const id = config.identity;
  const logger = deps.logger.child({ component: 'identity' });
  const joinTokens = new JoinTokenStore(config.trustDomain, deps.clock, {
    maxTtlSeconds: id.joinToken?.maxTtl,
    reuseWindowSeconds: id.joinToken?.reuseWindow ?? 30,
  });
  const listen = config.listen.sds;
  const available: Record<string, () => Authenticator> = {
    ...(listen.kind === 'unix' && id.unix ? { unix: () => new UnixAuthenticator({ spiffeId: id.unix!.spiffeId }) } : {}),
    mtls: () => new MtlsAuthenticator(deps.issuer, deps.clock, () => deps.issuer.intermediatesPem()),
    'join-token': () => new JoinTokenAuthenticator(joinTokens),
    ...(id.jwt ? { jwt: () => new JwtAuthenticator({ config: id.jwt!, clock: deps.clock, logger }) } : {}),
    ...(id.tokenReview ? { tokenreview: () => new TokenReviewAuthenticator(id.tokenReview!) } : {}),
    ...(config.profile === 'dev'
      ? { 'insecure-dev': () => new InsecureDevAuthenticator({ profile: config.profile, trustDomain: config.trustDomain, listen, logger }) }
      : {}),
  };
  const names = config.sds.authenticators ?? Object.keys(available);
  checkCertificateFirst(names, config);
  const authenticators = names.map((name) => {
    const make = available[name];
    if (!make) {
      throw new WcaError(
        'ERR_CONFIG_INVALID',
        `sds.authenticators: "${name}" is not available here (configured: ${Object.keys(available).join(', ')}; ` +
          'jwt and tokenreview need identity.jwt / identity.tokenReview, unix needs a unix: SDS listener and identity.unix, insecure-dev the dev profile)',
      );
    }
    return make();
  });

  const policy = rulePolicyWithBuiltins(config.trustDomain, id.policy.rules, config.ca.leafMaxTtl);
  return { authenticators, policy, joinTokens };
}

/** Authenticators whose credential travels in the request (metadata, node.id), not in the TLS handshake. */
const requestCredentialAuthenticators = ['join-token', 'jwt', 'tokenreview', 'insecure-dev'];

/**
 * On an mtls listener a client certificate, when presented, must be judged before
 * any token is looked at: otherwise a caller whose certificate fails (another
 * root, expired) would be served on the strength of a token sent alongside it,
 * and a certificate nobody checks would be requested for nothing.
 */
function checkCertificateFirst(names: readonly string[], config: Config): void {
  const mtlsAt = names.indexOf('mtls');
  const before = names.slice(0, mtlsAt).filter((name) => requestCredentialAuthenticators.includes(name));
  if (mtlsAt >= 0 && before.length > 0) {
    throw new WcaError('ERR_CONFIG_INVALID', `sds.authenticators: mtls must come before ${before.join(', ')}, so a presented client certificate is always checked first`, {
      details: { field: 'sds.authenticators' },
    });
  }
  if (mtlsAt < 0 && config.sds.transport === 'mtls' && config.listen.sds.kind === 'tcp') {
    throw new WcaError('ERR_CONFIG_INVALID', 'sds.authenticators: sds.transport mtls asks clients for certificates, so mtls must be listed (or use sds.transport: tls)', {
      details: { field: 'sds.authenticators' },
    });
  }
}

import type { Config } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import { WcaError } from '../errors.js';
import type { Authenticator, Policy } from '../identity/types.js';
import { InsecureDevAuthenticator } from '../identity/insecure-dev.js';
import { UnixAuthenticator } from '../identity/unix.js';
import { MtlsAuthenticator } from '../identity/mtls.js';
import { JoinTokenStore } from '../identity/join-token/store.js';
import { EvictionList } from '../identity/evictions.js';
import { JoinTokenAuthenticator } from '../identity/join-token/authenticator.js';
import { JwtAuthenticator } from '../identity/jwt/authenticator.js';
import { TokenReviewAuthenticator } from '../identity/jwt/tokenreview.js';
import { rulePolicyWithBuiltins } from '../identity/policy/builtin.js';
import { insecureDevAllowed, selectAuthenticators } from '../config/authenticators.js';
import type { LeafIssuer } from '../ca/types.js';
import type { JoinTokenRecords } from '../state/types.js';

export interface IdentitySetup {
  authenticators: Authenticator[];
  policy: Policy;
  joinTokens: JoinTokenStore;
  evictions: EvictionList;
}

/** Builds the SDS listener's authenticators (chosen by config/authenticators.ts) and policy from config. */
export function assembleIdentity(
  config: Config,
  deps: {
    issuer: LeafIssuer;
    clock: Clock;
    logger: Logger;
    joinTokenRecords?: JoinTokenRecords;
    /** Other replicas' intermediates: their SVIDs renew here too, except under tainted ones. */
    peers?: { current(): readonly string[]; tainted(): readonly string[] };
  },
): IdentitySetup {
  const id = config.identity;
  const logger = deps.logger.child({ component: 'identity' });
  const joinTokens = new JoinTokenStore(config.trustDomain, deps.clock, {
    maxTtlSeconds: id.joinToken.maxTtl,
    reuseWindowSeconds: id.joinToken.reuseWindow,
    ...(deps.joinTokenRecords ? { records: deps.joinTokenRecords } : {}),
  });
  // An entry is needed only while a leaf issued before the eviction can still be valid.
  const evictions = new EvictionList(deps.clock, config.ca.leafMaxTtl * 1000);
  const lineageMaxAge = id.mtls.lineageMaxAge;
  const listen = config.listen.sds;
  // Constructors for every name selectAuthenticators may return.
  const available: Record<string, () => Authenticator> = {
    ...(id.unix ? { unix: () => new UnixAuthenticator({ spiffeId: id.unix!.spiffeId }) } : {}),
    mtls: () =>
      new MtlsAuthenticator({
        trustDomain: config.trustDomain,
        clock: deps.clock,
        intermediates: () => [...deps.issuer.renewalIntermediatesPem(), ...(deps.peers?.current() ?? [])],
        tainted: () => [...deps.issuer.taintedIntermediatesPem(), ...(deps.peers?.tainted() ?? [])],
        evictions,
        ...(lineageMaxAge === undefined ? {} : { lineageMaxAgeMs: lineageMaxAge * 1000 }),
      }),
    'join-token': () => new JoinTokenAuthenticator(joinTokens),
    ...(id.jwt ? { jwt: () => new JwtAuthenticator({ config: id.jwt!, clock: deps.clock, logger }) } : {}),
    ...(id.tokenReview ? { tokenreview: () => new TokenReviewAuthenticator(id.tokenReview!) } : {}),
    ...(insecureDevAllowed(config)
      ? { 'insecure-dev': () => new InsecureDevAuthenticator({ profile: config.profile, trustDomain: config.trustDomain, listen, logger }) }
      : {}),
  };
  const { names, problems } = selectAuthenticators(config);
  if (problems.length > 0) throw new WcaError('ERR_CONFIG_INVALID', problems.join('\n'), { details: { problems } });
  const authenticators = names.map((name) => available[name]!());

  const policy = rulePolicyWithBuiltins(config.trustDomain, id.policy.rules, config.ca.leafMaxTtl);
  return { authenticators, policy, joinTokens, evictions };
}

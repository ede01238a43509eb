import type { IssuedSvid, TrustBundle } from '../ca/types.js';
import { WcaError } from '../errors.js';
import type { Grant } from '../identity/types.js';
import { trustDomainId } from '../spiffe/id.js';
import type { SecretCache } from './cache.js';
import { supportsSpiffeValidator, tlsCertificateResource, validationContextResource } from './resources.js';
import type { NodeInfo, Resource, ResourceSource } from './types.js';

/**
 * Maps resource names to what one authenticated caller may see: the configured
 * certificate name or the caller's own SPIFFE ID is its certificate; the bundle
 * name or the trust domain ID (spiffe://td) is the bundle, as SPIRE's agent serves
 * them. Another SPIFFE ID is denied, naming the resource; any other name (a typo)
 * simply does not exist here.
 */
export interface SourceOptions {
  cache: SecretCache;
  trustDomain: string;
  certificateName: string;
  bundleName: string;
  spiffeValidator: boolean;
  /** Upper bound on requested leaf lifetime, below the grant's maximum. */
  leafTtlSeconds?: number;
}

export interface StreamCaller {
  grant: Grant;
  node?: NodeInfo;
}

export type SourceFactory = (caller: StreamCaller) => ResourceSource;

/** Same grant and same Envoy node: same key. Different nodes never share one. */
export function identityKey({ grant, node }: StreamCaller): string {
  return JSON.stringify([grant.spiffeId, [...grant.dnsNames].sort(), grant.maxTtlSeconds, node?.id ?? '', node?.cluster ?? '']);
}

/** Encodes each (certificate or bundle, name) once however many streams want it. */
function memo<K extends object>(): (key: K, name: string, build: () => Resource) => Resource {
  const byKey = new WeakMap<K, Map<string, Resource>>();
  return (key, name, build) => {
    let names = byKey.get(key);
    if (!names) byKey.set(key, (names = new Map()));
    let resource = names.get(name);
    if (!resource) names.set(name, (resource = build()));
    return resource;
  };
}

export function createSourceFactory(options: SourceOptions): SourceFactory {
  const tdId = trustDomainId(options.trustDomain);
  const certificates = memo<IssuedSvid>();
  const bundles = { spiffe: memo<TrustBundle>(), plain: memo<TrustBundle>() };

  return (caller) => {
    const { grant } = caller;
    const key = identityKey(caller);
    const ttl = Math.min(grant.maxTtlSeconds, options.leafTtlSeconds ?? Number.POSITIVE_INFINITY);
    const request = { spiffeId: grant.spiffeId, dnsNames: grant.dnsNames, ttlSeconds: ttl };
    const spiffeValidator = options.spiffeValidator && supportsSpiffeValidator(caller.node?.envoyVersion);
    const bundleMemo = spiffeValidator ? bundles.spiffe : bundles.plain;

    const kindOf = (name: string): 'certificate' | 'bundle' | WcaError => {
      if (name === options.certificateName || name === grant.spiffeId) return 'certificate';
      if (name === options.bundleName || name === tdId) return 'bundle';
      const shown = JSON.stringify(name.length > 128 ? `${name.slice(0, 128)}…` : name);
      const details = { resource: name.slice(0, 128) };
      // Any spiffe: URI (whatever its case or shape) asks for an identity: deny it
      // loudly rather than let the caller wait for a certificate it will never get.
      if (/^spiffe:/i.test(name)) {
        throw new WcaError('ERR_PERMISSION_DENIED', `resource ${shown} is not available to ${grant.spiffeId}: a caller receives only its own SPIFFE ID`, {
          details,
        });
      }
      return new WcaError(
        'ERR_SDS_UNKNOWN_RESOURCE',
        `resource ${shown} does not exist here: known names are "${options.certificateName}", "${options.bundleName}", the caller's own SPIFFE ID (${grant.spiffeId}) and ${tdId}`,
        { details },
      );
    };

    return {
      check(name) {
        const kind = kindOf(name);
        return kind instanceof WcaError ? kind : undefined;
      },
      watch(name, onChange) {
        const kind = kindOf(name);
        if (kind instanceof WcaError) throw kind;
        if (kind === 'certificate') {
          return options.cache.watchCertificate(key, request, (svid) =>
            onChange(certificates(svid, name, () => tlsCertificateResource(name, svid))),
          );
        }
        return options.cache.watchBundle((bundle) =>
          onChange(bundleMemo(bundle, name, () => validationContextResource(name, bundle, spiffeValidator))),
        );
      },
    };
  };
}

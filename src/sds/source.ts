import { createHash } from 'node:crypto';
import type { IssuedSvid, ServerKeyLeafRequest, TrustBundle } from '../ca/types.js';
import { WcaError } from '../errors.js';
import type { Grant } from '../identity/types.js';
import { trustDomainId } from '../spiffe/id.js';
import type { SecretCache } from './cache.js';
import { supportsSpiffeValidator, tlsCertificateResource, validationContextResource } from './resources.js';
import type { NodeInfo, Resource, ResourceSource } from './types.js';
import { tagResource } from './convergence.js';

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
  /** Which authenticator recognised the caller (for the audit log). */
  authenticator?: string;
  /** The authenticated instance (its renewal lineage, see authorizeCaller): keys are never shared across instances. */
  instance: string;
  /** The renewal lineage the caller's certificates carry (LINEAGE_ID_LENGTH bytes). */
  lineageId: Uint8Array;
  node?: NodeInfo;
  /** The renewal lineage of the caller's SVID (mTLS renewal); its certificates carry it on. */
  lineageStartMs?: number;
  /** The stream ends then (the lineage reaches its maximum age). */
  validUntilMs?: number;
}

/** `onShed`: the caller's first certificate was refused for load (RESOURCE_EXHAUSTED); end its stream or call with that error. */
export type SourceFactory = (caller: StreamCaller, onShed?: (err: unknown) => void) => ResourceSource;

const digest = (text: string) => createHash('sha256').update(text).digest('base64url');

/**
 * Same instance, grant and Envoy node: same key (an Envoy opens one stream per
 * secret). Different instances or nodes never share one. A digest, so a cache
 * entry costs the same whatever the caller sent.
 */
function identityKey({ grant, instance, node }: StreamCaller): string {
  return digest(JSON.stringify([instance, grant.spiffeId, [...grant.dnsNames].sort(), grant.maxTtlSeconds, node?.id ?? '', node?.cluster ?? '']));
}

/** Encodes each (certificate or bundle, name) once however many streams want it. */
class Memo<K extends object> {
  private readonly byKey = new WeakMap<K, Map<string, Resource>>();

  constructor(private readonly build: (name: string, value: K) => Resource) {}

  get(value: K, name: string): Resource {
    let names = this.byKey.get(value);
    if (!names) this.byKey.set(value, (names = new Map()));
    let resource = names.get(name);
    if (!resource) names.set(name, (resource = this.build(name, value)));
    return resource;
  }
}

/** Per server: the options and the encodings every stream shares. */
interface Shared {
  readonly options: SourceOptions;
  readonly tdId: string;
  readonly certificates: Memo<IssuedSvid>;
  readonly bundles: { readonly spiffe: Memo<TrustBundle>; readonly plain: Memo<TrustBundle> };
}

/**
 * One authenticated caller's view. A class, so each of tens of thousands of
 * streams costs one object with prototype methods instead of a set of closures.
 */
class CallerSource implements ResourceSource {
  private readonly grant: Grant;
  private readonly key: string;
  private readonly owner: string;
  private readonly request: ServerKeyLeafRequest;
  private readonly bundles: Memo<TrustBundle>;

  constructor(
    private readonly shared: Shared,
    caller: StreamCaller,
    private readonly onShed: ((err: unknown) => void) | undefined,
  ) {
    const { options } = shared;
    const { grant } = caller;
    this.grant = grant;
    this.key = identityKey(caller);
    this.owner = digest(caller.instance);
    const ttl = Math.min(grant.maxTtlSeconds, options.leafTtlSeconds ?? Number.POSITIVE_INFINITY);
    this.request = {
      spiffeId: grant.spiffeId,
      dnsNames: grant.dnsNames,
      ttlSeconds: ttl,
      lineageId: caller.lineageId,
      ...(caller.lineageStartMs === undefined ? {} : { lineageStartMs: caller.lineageStartMs }),
    };
    if (caller.authenticator) this.request.subject = { authenticator: caller.authenticator, ...(caller.node ? { nodeId: caller.node.id } : {}) };
    const spiffeValidator = options.spiffeValidator && supportsSpiffeValidator(caller.node?.envoyVersion);
    this.bundles = spiffeValidator ? shared.bundles.spiffe : shared.bundles.plain;
  }

  check(name: string): WcaError | undefined {
    const kind = this.kindOf(name);
    return kind instanceof WcaError ? kind : undefined;
  }

  watch(name: string, onChange: (resource: Resource) => void): () => void {
    const kind = this.kindOf(name);
    if (kind instanceof WcaError) throw kind;
    const { cache } = this.shared.options;
    if (kind === 'certificate') {
      const { certificates } = this.shared;
      return cache.watchCertificate(this.key, this.request, (svid) => onChange(certificates.get(svid, name)), this.owner, this.onShed);
    }
    const { bundles } = this;
    return cache.watchBundle((bundle) => onChange(bundles.get(bundle, name)));
  }

  private kindOf(name: string): 'certificate' | 'bundle' | WcaError {
    const { options, tdId } = this.shared;
    const { spiffeId } = this.grant;
    if (name === options.certificateName || name === spiffeId) return 'certificate';
    if (name === options.bundleName || name === tdId) return 'bundle';
    const shown = JSON.stringify(name.length > 128 ? `${name.slice(0, 128)}…` : name);
    const details = { resource: name.slice(0, 128) };
    // Any spiffe: URI (whatever its case or shape) asks for an identity: deny it
    // loudly rather than let the caller wait for a certificate it will never get.
    if (/^spiffe:/i.test(name)) {
      throw new WcaError('ERR_PERMISSION_DENIED', `resource ${shown} is not available to ${spiffeId}: a caller receives only its own SPIFFE ID`, {
        details,
      });
    }
    return new WcaError(
      'ERR_SDS_UNKNOWN_RESOURCE',
      `resource ${shown} does not exist here: known names are "${options.certificateName}", "${options.bundleName}", the caller's own SPIFFE ID (${spiffeId}) and ${tdId}`,
      { details },
    );
  }
}

export function createSourceFactory(options: SourceOptions): SourceFactory {
  const shared: Shared = {
    options,
    tdId: trustDomainId(options.trustDomain),
    // Tagged with their authority / bundle version, so ACKs tell which one each subscriber holds.
    certificates: new Memo((name, svid) => tagResource(tlsCertificateResource(name, svid), { caId: svid.caId })),
    bundles: {
      spiffe: new Memo((name, bundle) => tagResource(validationContextResource(name, bundle, true), { bundleVersion: bundle.version })),
      plain: new Memo((name, bundle) => tagResource(validationContextResource(name, bundle, false), { bundleVersion: bundle.version })),
    },
  };
  return (caller, onShed) => new CallerSource(shared, caller, onShed);
}

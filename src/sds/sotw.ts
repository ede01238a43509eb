import { createHash } from 'node:crypto';
import { Batch, type Protocol, type ProtocolDeps } from './protocol.js';
import { Subscription } from './subscription.js';
import type { Resource, SotwRequest, SotwResponse } from './types.js';

/** Versions of one-resource responses (Envoy's one stream per secret), hashed once per Resource. */
const singleVersions = new WeakMap<Resource, string>();

/** version_info of a state-of-the-world response: changes with any name or version in it. */
export function sotwVersion(resources: readonly Resource[]): string {
  const single = resources.length === 1 ? resources[0]! : undefined;
  const known = single && singleVersions.get(single);
  if (known) return known;
  const hash = createHash('sha256');
  for (const r of resources) hash.update(`${r.name}\0${r.version}\n`);
  const version = hash.digest('hex').slice(0, 16);
  if (single) singleVersions.set(single, version);
  return version;
}

/**
 * State-of-the-world xDS for one stream. Every response carries a fresh nonce; a
 * request whose non-empty nonce is not the latest is stale and ignored; a NACK
 * keeps the client's last good state and the rejected version is never resent; a
 * version the client already holds (reconnect) is not resent; nothing is sent
 * until at least one subscribed resource exists ("not yet" is silence).
 */
export class SotwProtocol implements Protocol<SotwRequest> {
  private readonly subscription: Subscription;
  private readonly batch: Batch;
  private nonces = 0;
  private lastNonce = '';
  private sentVersion: string | undefined;
  private nackedVersion: string | undefined;
  private started = false;

  constructor(
    private readonly deps: ProtocolDeps<SotwResponse>,
    /** Names served when a request lists none (as SPIRE's agent does). */
    private readonly wildcardNames: readonly string[],
  ) {
    this.batch = new Batch(() => this.flush());
    this.subscription = new Subscription(deps.source, () => this.batch.changed());
  }

  handle(request: SotwRequest): void {
    if (request.responseNonce !== '' && request.responseNonce !== this.lastNonce) {
      this.deps.logger.debug({ nonce: request.responseNonce, latest: this.lastNonce }, 'sds: stale nonce ignored');
      return;
    }
    if (!this.started) {
      this.started = true;
      // A reconnecting client reports what it holds; do not resend that.
      if (request.versionInfo !== '') this.sentVersion = request.versionInfo;
    } else if (request.responseNonce !== '' && request.errorDetail) {
      this.nack(request);
    }
    const names = request.resourceNames.length > 0 ? request.resourceNames : this.wildcardNames;
    // A name that will never exist is simply never sent: Envoy keeps waiting (its
    // initial_fetch_timeout applies) and the stream stays open for a corrected request.
    this.batch.run(() => this.subscription.replace(names).forEach((unknown) => this.deps.onUnknown?.(unknown)));
  }

  close(): void {
    this.subscription.close();
  }

  private nack(request: SotwRequest): void {
    this.nackedVersion = this.sentVersion;
    this.deps.onNack?.(this.subscription.names, request.errorDetail!, { version: this.sentVersion, ackedVersion: request.versionInfo });
  }

  private flush(): void {
    const resources = this.subscription.available();
    if (resources.length === 0) return;
    const version = sotwVersion(resources);
    if (version === this.sentVersion || version === this.nackedVersion) return;
    this.sentVersion = version;
    this.lastNonce = String(++this.nonces);
    this.deps.send({ versionInfo: version, resources, nonce: this.lastNonce });
  }
}

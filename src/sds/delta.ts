import { Batch, type Protocol, type ProtocolDeps } from './protocol.js';
import { Subscription } from './subscription.js';
import type { DeltaRequest, DeltaResponse, Resource } from './types.js';

/** Unanswered responses remembered for ACK/NACK matching; older ones count as stale. */
const pendingResponsesMax = 32;

/** What one response carried, remembered until its ACK or NACK. */
interface Sent {
  versions: Map<string, string>;
  removed: readonly string[];
}

/**
 * Incremental xDS for one stream: subscribe and unsubscribe by name, push only
 * resources whose version differs from what the client holds, match ACK/NACK to
 * the response by nonce, never push a version the client rejected.
 *
 * Every name in resource_names_subscribe is answered, even when the client seems
 * to hold its current version: the client may have dropped it and regained
 * interest before it could unsubscribe (xDS protocol, "Subscribing to Resources";
 * DeltaDiscoveryRequest.resource_names_subscribe). The one exception is the first
 * request of a stream: a name it subscribes to *and* lists in
 * initial_resource_versions with the current version is what a reconnecting
 * client already holds, which is that field's whole point, so it is not resent.
 *
 * A subscribed name that will never exist (a typo) is answered in
 * removed_resources, incremental xDS's way to say "does not exist", once per
 * subscription of it (DeltaDiscoveryResponse: removals of missing resources may be
 * ignored). Envoy 1.31+ then stops waiting for it (envoyproxy/envoy#33362); older
 * ones ignore it or NACK that response ("Missing SDS resources"), which is logged
 * and otherwise harmless. Either way the stream stays open.
 */
export class DeltaProtocol implements Protocol<DeltaRequest> {
  private readonly subscription: Subscription;
  private readonly batch: Batch;
  /** Version the client holds, per name. */
  private readonly held = new Map<string, string>();
  private readonly rejected = new Map<string, string>();
  private readonly pending = new Map<string, Sent>();
  /** Names to report in removed_resources with the next response. */
  private readonly notFound = new Set<string>();
  /** Names subscribed or changed since the last response: the only ones a flush looks at. */
  private readonly dirty = new Set<string>();
  private nonces = 0;
  private started = false;

  constructor(private readonly deps: ProtocolDeps<DeltaResponse>) {
    this.batch = new Batch(() => this.flush());
    this.subscription = new Subscription(deps.source, (name) => {
      this.dirty.add(name);
      this.batch.changed();
    });
  }

  handle(request: DeltaRequest): void {
    const first = !this.started;
    if (first) {
      this.started = true;
      for (const [name, version] of request.initialVersions) this.held.set(name, version);
    }
    if (request.responseNonce !== '') this.acknowledge(request);
    this.batch.run(() => {
      this.subscription.remove(request.unsubscribe);
      for (const name of request.unsubscribe) this.forget(name);
      // Checks every new name first: a denied one throws and changes nothing.
      this.subscription.add(request.subscribe);
      for (const name of request.subscribe) {
        const unknown = this.subscription.unknown(name);
        if (unknown) {
          this.notFound.add(name);
          this.deps.onUnknown?.(unknown);
        } else {
          // An explicit (re)subscription asks for the current version, even one sent or rejected before.
          if (!(first && request.initialVersions.has(name))) this.forget(name);
          this.dirty.add(name);
        }
      }
    });
  }

  close(): void {
    this.subscription.close();
  }

  /** Forgets what the client holds or rejected for `name`, so its current version goes out next. */
  private forget(name: string): void {
    this.held.delete(name);
    this.rejected.delete(name);
  }

  private acknowledge(request: DeltaRequest): void {
    const sent = this.pending.get(request.responseNonce);
    if (!sent) {
      this.deps.logger.debug({ nonce: request.responseNonce }, 'sds: stale or unknown nonce ignored');
      return;
    }
    this.pending.delete(request.responseNonce);
    if (!request.errorDetail) return;
    for (const [name, version] of sent.versions) {
      this.rejected.set(name, version);
      // The client kept whatever it had before; we no longer know which version that is.
      if (this.held.get(name) === version) this.held.delete(name);
    }
    const names = [...sent.versions.keys(), ...sent.removed];
    this.deps.onNack?.(names, request.errorDetail, { nonce: request.responseNonce });
  }

  /** Looks only at what this request or a change touched, so its cost follows the request, not the subscription. */
  private flush(): void {
    const changed: Resource[] = [];
    for (const name of [...this.dirty].sort()) {
      const r = this.subscription.current(name);
      if (r && this.held.get(name) !== r.version && this.rejected.get(name) !== r.version) changed.push(r);
    }
    this.dirty.clear();
    const removed = [...this.notFound];
    this.notFound.clear();
    if (changed.length === 0 && removed.length === 0) return;
    const nonce = String(++this.nonces);
    const versions = new Map(changed.map((r) => [r.name, r.version]));
    for (const [name, version] of versions) this.held.set(name, version);
    this.pending.set(nonce, { versions, removed });
    if (this.pending.size > pendingResponsesMax) this.pending.delete(this.pending.keys().next().value!);
    this.deps.send({ systemVersionInfo: '', resources: changed, removed, nonce });
  }
}

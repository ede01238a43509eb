import type { AuthorityEvent, IssuedCert, IssuedSvid, LeafIssuer, ServerKeyLeafRequest, TrustBundle } from '../../src/ca/types.js';
import type { Clock } from '../../src/clock.js';
import { WcaError, type ErrorCode } from '../../src/errors.js';

/**
 * A LeafIssuer for cache and protocol unit tests: placeholder PEM text, counted
 * calls, issues that can be held back or made to fail, and events on demand.
 * Tests that need real certificates use createDevAuthority() instead.
 */
export class FakeIssuer implements LeafIssuer {
  readonly trustDomain = 'cluster.local';
  readonly requests: ServerKeyLeafRequest[] = [];
  caId = 'ca-1';
  lifetimeMs = 3600_000;
  /** Issues fail with `failCode` while this is above zero (decremented per call). */
  failNext = 0;
  failCode: ErrorCode = 'ERR_CA_NOT_READY';
  /** When true, issue() waits for release(). */
  hold = false;
  private held: (() => void)[] = [];
  private serial = 0;
  private currentBundle: TrustBundle = { trustDomain: 'cluster.local', pem: 'ROOT-1', version: 'b1' };
  private readonly listeners = new Set<(event: AuthorityEvent) => void>();

  constructor(private readonly clock: Clock) {}

  get inFlight(): number {
    return this.held.length;
  }

  async issue(request: ServerKeyLeafRequest): Promise<IssuedSvid> {
    this.requests.push(request);
    // The CA that signs is the one active when the request arrived.
    const caId = this.caId;
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failNext > 0) {
      this.failNext--;
      throw new WcaError(this.failCode, 'fake CA refused');
    }
    const serial = (++this.serial).toString(16).toUpperCase().padStart(4, '0');
    const now = this.clock.now();
    return {
      spiffeId: request.spiffeId,
      chainPem: `LEAF ${serial} ${request.spiffeId}\nINTERMEDIATE ${this.caId}\n`,
      privateKeyPem: `KEY ${serial}\n`,
      serial,
      notBefore: new Date(now),
      notAfter: new Date(now + this.lifetimeMs),
      caId,
    };
  }

  /** Lets `count` held issues (all when omitted) proceed. */
  release(count = this.held.length): void {
    this.held.splice(0, count).forEach((resolve) => resolve());
  }

  async issueForCsr(): Promise<IssuedCert> {
    throw new WcaError('ERR_INTERNAL', 'not used by SDS');
  }

  bundle(): TrustBundle {
    return this.currentBundle;
  }

  intermediatesPem(): string[] {
    return [];
  }

  renewalIntermediatesPem(): string[] {
    return [];
  }

  taintedIntermediatesPem(): string[] {
    return [];
  }

  subscribe(listener: (event: AuthorityEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Switches to a new CA and asks for re-issue of the old one's leaves. */
  rotate(newCaId: string): void {
    const old = this.caId;
    this.caId = newCaId;
    this.listeners.forEach((l) => l({ type: 'reissue', caIds: [old], reason: 'test rotation' }));
  }

  setBundle(pem: string, version: string): void {
    this.currentBundle = { trustDomain: this.trustDomain, pem, version };
    this.listeners.forEach((l) => l({ type: 'bundle', bundle: this.currentBundle }));
  }
}

/** Lets pending promise callbacks (issue completions) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

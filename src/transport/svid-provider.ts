import type { experimental } from '@grpc/grpc-js';
import type { IssuedSvid, TrustBundle } from '../ca/types.js';

type Provider = experimental.CertificateProvider;
type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaListener = experimental.CaCertificateUpdateListener;

export interface SvidFeed {
  watchCertificate(listener: (svid: IssuedSvid) => void): () => void;
  watchBundle(listener: (bundle: TrustBundle) => void): () => void;
}

/**
 * Feeds grpc-js server credentials from the SecretCache: the server's own SVID
 * (renewed and re-issued like any other) and the trust bundle for client
 * certificates. New TLS connections use the newest pair; open ones keep theirs.
 */
export class SvidCertificateProvider implements Provider {
  private identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  private ca: { caCertificate: Buffer } | null = null;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private readonly cancels: (() => void)[];
  private firstIdentity!: () => void;
  /** Resolves once the first SVID arrived: bind only after that. */
  readonly ready = new Promise<void>((resolve) => (this.firstIdentity = resolve));

  constructor(feed: SvidFeed) {
    this.cancels = [
      feed.watchCertificate((svid) => {
        this.identity = { certificate: Buffer.from(svid.chainPem), privateKey: Buffer.from(svid.privateKeyPem) };
        this.identityListeners.forEach((listener) => listener(this.identity));
        this.firstIdentity();
      }),
      feed.watchBundle((bundle) => {
        this.ca = { caCertificate: Buffer.from(bundle.pem) };
        this.caListeners.forEach((listener) => listener(this.ca));
      }),
    ];
  }

  // grpc-js registers its own watcher only after adding ours (server-credentials.ts
  // _addWatcher), so the current value must arrive on a later tick to be seen.
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => this.identityListeners.has(listener) && this.identity && listener(this.identity));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => this.caListeners.has(listener) && this.ca && listener(this.ca));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  close(): void {
    this.cancels.forEach((cancel) => cancel());
  }
}

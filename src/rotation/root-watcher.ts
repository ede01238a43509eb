import { X509Certificate } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import { publicMessageOf } from '../errors.js';

export interface RootSource {
  readonly name: string;
  fetchRoots?(signal?: AbortSignal): Promise<string[]>;
}

export interface RootSink {
  setAnnouncedRoots(rootsPem: readonly string[]): void;
}

/**
 * Polls the upstream's roots so a root rotation announced upstream reaches every
 * peer's bundle before any leaf chains to the new root. A failed poll changes
 * nothing: the bundle keeps what it had.
 */
export class RootWatcher {
  private cancel: (() => void) | undefined;
  private lastSeen = '';
  /** Fingerprints of the roots of the last poll. */
  private seen = new Set<string>();

  constructor(
    private readonly source: RootSource,
    private readonly sink: RootSink,
    private readonly options: {
      clock: Clock;
      logger: Logger;
      intervalMs: number;
      /** Told of each root that appears after the first poll (metrics: wca_upstream_root_changes_total). */
      onNewRoot?(fingerprint256: string): void;
    },
  ) {}

  start(): void {
    if (!this.source.fetchRoots) return;
    const loop = () => {
      void this.poll().finally(() => {
        this.cancel = this.options.clock.schedule(loop, this.options.intervalMs);
      });
    };
    this.cancel = this.options.clock.schedule(loop, this.options.intervalMs);
  }

  stop(): void {
    this.cancel?.();
  }

  async poll(): Promise<void> {
    try {
      const roots = (await this.source.fetchRoots?.()) ?? [];
      // An upstream that has not published roots yet (self-signed before its first mint) is not a change.
      if (roots.length === 0) return;
      const key = [...roots].map((r) => r.trim()).sort().join('\n');
      if (key === this.lastSeen) return;
      this.sink.setAnnouncedRoots(roots);
      if (this.lastSeen !== '') this.reportNewRoots(roots);
      this.lastSeen = key;
      this.seen = new Set(roots.map(fingerprintOf));
    } catch (err) {
      this.options.logger.warn({ upstream: this.source.name, error: publicMessageOf(err) }, 'could not poll upstream roots; keeping the current bundle');
    }
  }

  /**
   * A new trust anchor is the one change an attacker who controls the upstream
   * would make: say which, loudly, so an operator can compare it with what the
   * upstream's owners announced.
   */
  private reportNewRoots(roots: readonly string[]): void {
    for (const fingerprint256 of roots.map(fingerprintOf)) {
      if (this.seen.has(fingerprint256)) continue;
      this.options.onNewRoot?.(fingerprint256);
      this.options.logger.warn(
        { upstream: this.source.name, fingerprint256, roots: roots.length },
        'upstream announced a new root; it is trusted in the bundle from now on: check its fingerprint with the upstream\'s owners',
      );
    }
  }
}

/** SHA-256 fingerprint of a root; the upstream validated the PEM already, so a failure here is only labelled. */
function fingerprintOf(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return 'unparsable';
  }
}

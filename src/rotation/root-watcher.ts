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

  constructor(
    private readonly source: RootSource,
    private readonly sink: RootSink,
    private readonly options: { clock: Clock; logger: Logger; intervalMs: number },
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
      if (this.lastSeen !== '') this.options.logger.info({ upstream: this.source.name, roots: roots.length }, 'upstream roots changed; bundle updated');
      this.lastSeen = key;
    } catch (err) {
      this.options.logger.warn({ upstream: this.source.name, error: publicMessageOf(err) }, 'could not poll upstream roots; keeping the current bundle');
    }
  }
}

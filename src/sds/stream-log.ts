import type { Logger } from '../telemetry/logger.js';

/** The log calls the SDS protocol layer makes; a pino Logger is one. */
export interface Log {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * One stream's log: its context (peer, then SPIFFE ID and node) is merged into
 * each line when a line is written. A pino child per stream would cost time and
 * memory on every one of tens of thousands of streams, though most never log.
 */
export class StreamLog implements Log {
  private context: Record<string, unknown>;

  constructor(
    private readonly logger: Logger,
    context: Record<string, unknown>,
  ) {
    this.context = context;
  }

  /** Adds fields to every later line (e.g. who the caller turned out to be). */
  bind(fields: Record<string, unknown>): void {
    this.context = { ...this.context, ...fields };
  }

  debug(fields: object, message: string): void {
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ ...this.context, ...fields }, message);
  }

  info(fields: object, message: string): void {
    this.logger.info({ ...this.context, ...fields }, message);
  }

  warn(fields: object, message: string): void {
    this.logger.warn({ ...this.context, ...fields }, message);
  }

  error(fields: object, message: string): void {
    this.logger.error({ ...this.context, ...fields }, message);
  }
}

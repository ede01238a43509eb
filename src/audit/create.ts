import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { AuditConfig } from './config.js';
import { AuditLog } from './log.js';
import { fileAuditSink, stdoutAuditSink, type AuditSink } from './sink.js';

/** The audit log as configured, and how to flush and close its sink at shutdown. */
export function createAuditLog(config: AuditConfig, deps: { clock: Clock; logger: Logger }): { log: AuditLog; close(): Promise<void> } {
  let sink: AuditSink | undefined;
  if (config.sink === 'stdout') sink = stdoutAuditSink();
  else if (config.sink === 'file') {
    sink = fileAuditSink(config.path!, (err) => deps.logger.error({ path: config.path, error: err.message }, 'audit log file write failed'));
  }
  return { log: new AuditLog({ clock: deps.clock, sink, ringSize: config.ringSize }), close: async () => sink?.close() };
}

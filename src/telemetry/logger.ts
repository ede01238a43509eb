import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that may ever carry secrets. Redaction is a second line of defence: code
 * must not log key material in the first place (tests grep captured logs for it).
 */
export const redactPaths = [
  'privateKey',
  'privateKeyPem',
  '*.privateKey',
  '*.privateKeyPem',
  'key',
  '*.key',
  'token',
  '*.token',
  'password',
  '*.password',
  'pin',
  '*.pin',
  'secret',
  '*.secret',
  'secretId',
  '*.secretId',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'passphrase',
  '*.passphrase',
  // A PostgreSQL URL may carry the password (state.postgres.url).
  'connectionString',
  '*.connectionString',
  'state.postgres',
  '*.state.postgres',
];

export interface LoggerOptions {
  level?: string;
  /** Where to write; defaults to stderr so `workload-ca issue` output stays clean on stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'workload-ca',
      level: options.level ?? 'info',
      redact: { paths: redactPaths, censor: '[REDACTED]' },
      base: undefined,
      // "warn", not 40: readable in `kubectl logs` and matched by log pipelines without a lookup table.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that discards everything; for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

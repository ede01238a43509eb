import fs from 'node:fs';
import { WcaError } from '../errors.js';
import type { AuditRecord } from './events.js';

export interface AuditSink {
  write(record: AuditRecord): void;
  close(): Promise<void>;
}

/** Marks audit lines apart from operational logs (which go to stderr): `grep '"log":"audit"'`. */
const MARK = '{"log":"audit",';

/**
 * Buffers lines and writes them once per event-loop turn: one write syscall for a
 * burst of issuances instead of one each, so the issuing path barely pays for it.
 */
class LineSink implements AuditSink {
  private buffer: string[] = [];
  private scheduled = false;

  constructor(private readonly out: { write(chunk: string): unknown }, private readonly end: () => Promise<void>) {}

  write(record: AuditRecord): void {
    this.buffer.push(MARK + JSON.stringify(record).slice(1) + '\n');
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  async close(): Promise<void> {
    this.flush();
    await this.end();
  }

  private flush(): void {
    this.scheduled = false;
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join('');
    this.buffer = [];
    this.out.write(chunk);
  }
}

export function stdoutAuditSink(out: { write(chunk: string): unknown } = process.stdout): AuditSink {
  return new LineSink(out, async () => undefined);
}

/**
 * Appends to a file created with mode 0600 (it names every identity issued). Opened
 * at once, so a bad path stops the start instead of losing events later.
 */
export function fileAuditSink(path: string, onError: (err: Error) => void): AuditSink {
  let fd: number;
  try {
    fd = fs.openSync(path, 'a', 0o600);
  } catch (err) {
    throw new WcaError('ERR_CONFIG_INVALID', `audit.path: cannot open ${path} for appending: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const stream = fs.createWriteStream('', { fd });
  stream.on('error', onError);
  return new LineSink(stream, () => new Promise<void>((resolve) => stream.end(resolve)));
}

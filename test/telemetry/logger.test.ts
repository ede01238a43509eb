import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/telemetry/logger.js';

describe('createLogger', () => {
  it('writes the level as its name, one JSON object per line', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
    logger.warn({ field: 'x' }, 'careful');
    logger.debug('not written');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', name: 'workload-ca', msg: 'careful', field: 'x' });
  });
});

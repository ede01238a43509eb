/**
 * Issue #10 (terminal injection): node IDs, NACKing nodes and reasons reach `authority
 * show` and `audit tail` from peers; the table renderer shows their control
 * characters escaped, JSON stays JSON.
 */
import { describe, expect, it } from 'vitest';
import type { AuthorityStatus } from '../../src/admin/authority-proto.js';
import { authorityTable } from '../../src/cli/commands/authority.js';
import { printData, table } from '../../src/cli/output.js';
import { configSchema } from '../../src/config/schema.js';
import { runMain } from './in-process.js';

const hostile = ['\u001b[2J\u001b]0;pwned\u0007', 'a\r\nactive  forged', '\u009b31m', '\u007f', 'x\u202egnp', '\u2066y\u2069', '\u2028'];
// ESC and CSI (C1) start every terminal sequence; CR/LF/LS forge lines; bidi controls reorder text.
const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u202a-\u202e\u2066-\u2069]/;

function capture(): { out: { write(t: string): void }; text: () => string } {
  let text = '';
  return { out: { write: (t: string) => void (text += t) }, text: () => text };
}

describe('table output is terminal-safe', () => {
  it.each(hostile)('escapes %j in a cell and keeps one line per row', (cell) => {
    const text = table(['A', 'B'], [[cell, 'z'], ['ok', cell]]);
    expect(text).not.toMatch(raw);
    expect(text.split('\n')).toHaveLength(4);
    expect(text).toContain('\\u');
  });

  it('authority show: hostile reasons and NACKed node IDs are escaped in the table, kept as sent in JSON', () => {
    const status: AuthorityStatus = {
      authorities: [
        {
          id: 'aa',
          state: 'active',
          not_before: 'x',
          not_after: 'x',
          since: 'x',
          reason: 'emergency: \u001b[8mhidden',
          subscribers: { sent: 1, acked: 0, nacked: 1 },
          nacked_nodes: ['node\u001b[2J\u001b[1;1Hfake', 'b\u202ec'],
        },
      ],
      bundle_version: 'v',
      subscribers: 1,
      converged: 0,
      bundle_acked: 0,
      bundle_subscribers: 1,
    } as AuthorityStatus;
    const t = capture();
    printData(t.out, 'table', status, authorityTable);
    expect(t.text()).not.toMatch(raw);
    expect(t.text()).toContain('node\\u001b[2J');
    const j = capture();
    printData(j.out, 'json', status, authorityTable);
    expect(JSON.parse(j.text())).toEqual(status);
  });
});

describe('errors that quote what was typed are terminal-safe and bounded', () => {
  const long = 'a'.repeat(100_000);

  it.each(hostile)('an unknown command %j is quoted escaped, the error still exits 2', async (word) => {
    const r = await runMain(`x${word}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command');
    expect(r.stderr).not.toMatch(raw);
  });

  it('an unknown command of 100,000 characters is quoted in at most a few hundred', async () => {
    const r = await runMain(long);
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeLessThan(500);
  });

  it.each([
    ['--http-listen', 'healthcheck'],
    ['--sds-listen', 'healthcheck'],
  ])('%s: a hostile or huge value is named by the flag, escaped and cut to 32 characters', async (flag, command) => {
    for (const value of [...hostile, long]) {
      const r = await runMain(command, flag, value);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${flag}: "`);
      expect(r.stderr).not.toMatch(raw);
      expect(r.stderr.length).toBeLessThan(200);
    }
  });

  it('a duration in a config file is quoted the same way', async () => {
    expect(configSchema.safeParse({ shutdownTimeout: `\u001b[2J${long}` }).error?.issues[0]?.message).toBe(
      // 32 characters shown: ESC, "[2J" and 28 of the rest.
      `"\\u001b[2J${'a'.repeat(28)}…" is not a duration (use e.g. 30s, 15m, 1h30m or seconds)`,
    );
  });
});

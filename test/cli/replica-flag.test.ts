/**
 * Issue #13 finding 9: a usage error for `--replica` echoed the operator's argument
 * with raw ESC and newline (a pasted value could drive the terminal), and its message
 * listed the allowed characters without the leading letter-or-digit rule.
 */
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runMain } from './in-process.js';

const rotate = (replica: string) => runMain('rotate', '--emergency', '--reason', 'drill', '--replica', replica, '--admin-socket', 'unix:/nonexistent/admin.sock');

describe('--replica usage errors', () => {
  it('show control characters escaped, never raw', async () => {
    const r = await rotate('\u001b[31mred\nline\u202e');
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('\\u001b[31mred\\u000aline\\u202e');
    expect(r.stderr).not.toMatch(/[\u001b\u202e]/);
    expect(r.stderr.trimEnd()).not.toContain('\n');
  });

  it('a leading "-" or "." is refused with the real grammar', async () => {
    for (const bad of ['-x', '.x']) {
      const r = await rotate(bad);
      expect(r.code).toBe(ExitCode.USAGE);
      expect(r.stderr).toContain('a letter or digit, then');
    }
  });
});

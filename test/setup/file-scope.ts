/**
 * Test files share worker processes (isolate: false), so what one file changes in
 * the process must not reach the next: the environment is put back as it was when
 * the file started (the AWS tests set credentials the SDK reads from it).
 */
import { afterAll } from 'vitest';

const atStart = { ...process.env };

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in atStart)) delete process.env[name];
  Object.assign(process.env, atStart);
});

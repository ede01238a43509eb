/** protos/third_party/ is exactly what scripts/refresh-envoy-protos.mjs makes from the installed @grpc/grpc-js-xds. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const vendored = path.join(repo, 'protos/third_party');

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = fs.readFileSync(file, 'utf8');
  }
  return out;
}

describe('vendored Envoy protos', () => {
  it('match a fresh refresh from @grpc/grpc-js-xds (run `npm run refresh-protos` after upgrading it)', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wca-protos-')), 'third_party');
    await promisify(execFile)(process.execPath, [path.join(repo, 'scripts/refresh-envoy-protos.mjs'), '--out', out], { cwd: repo });
    const fresh = tree(out);
    expect(Object.keys(fresh)).toContain('envoy-api/envoy/service/secret/v3/sds.proto');
    expect(Object.keys(fresh)).toContain('LICENSE');
    expect(tree(vendored)).toEqual(fresh);
  });
});

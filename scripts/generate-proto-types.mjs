#!/usr/bin/env node
/**
 * Generates TypeScript declarations for every message of the .proto files under protos/
 * (the vendored Envoy closure, grpc.health.v1 and our admin API) with @grpc/proto-loader's generator, into
 * src/generated/proto/ (not committed: `npm run build`, `npm test` and `npm run typecheck`
 * regenerate it first). Decoded requests and built responses are typed from the protos
 * themselves, so a field renamed upstream fails the type check instead of reading undefined.
 *
 * Options mirror how src/sds/protos.ts and src/admin/proto.ts load the files: field names as
 * written (keepCase), 64-bit integers and enums as strings.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const repo = path.resolve(import.meta.dirname, '..');
const out = path.join(repo, 'src/generated/proto');
const thirdParty = path.join(repo, 'protos/third_party');
const require = createRequire(path.join(repo, 'package.json'));
const protoLoaderDir = path.dirname(require.resolve('@grpc/proto-loader/package.json'));
const generator = path.join(protoLoaderDir, 'build/bin/proto-loader-gen-types.js');
// google/protobuf/*.proto ship with protobufjs, as at run time.
const includeDirs = [
  ...fs.readdirSync(thirdParty, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(thirdParty, d.name)),
  path.dirname(require.resolve('protobufjs/package.json')),
  path.join(repo, 'protos'),
  path.join(repo, 'protos/grpc-health'),
].map((dir) => path.relative(repo, dir));

/** Entry files: our own protos, and every vendored Envoy service or extension (the rest is their import closure). */
function entries() {
  const files = [];
  const walk = (dir, base) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, base);
      else if (entry.name.endsWith('.proto')) files.push(path.relative(base, full));
    }
  };
  walk(path.join(repo, 'protos/workload_ca'), path.join(repo, 'protos'));
  files.push('grpc/health/v1/health.proto');
  for (const dir of ['envoy/service', 'envoy/extensions']) {
    const base = path.join(thirdParty, 'envoy-api');
    if (fs.existsSync(path.join(base, dir))) walk(path.join(base, dir), base);
  }
  return files.sort();
}

fs.rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    generator,
    ...entries(),
    '--keepCase',
    '--longs=String',
    '--enums=String',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    '--targetFileExtension=.d.ts',
    '--importFileExtension=.js',
    `--outDir=${path.relative(repo, out)}`,
    '-I',
    ...includeDirs,
  ],
  // Its stderr carries only an "alpha tool" notice when it succeeds; a failure throws with it.
  { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] },
);

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
 *
 * Skipped when nothing it reads changed since the last run (a hash of the .proto files,
 * the generator's version and its arguments, kept beside the output): it runs before
 * every build, type check and test run, and generating costs about 3 s of CPU. Removing
 * src/generated/ forces a run.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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

const args = [
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
];

/**
 * What the output depends on: the arguments, the generator's and protobufjs's versions
 * (google/protobuf/*.proto ship with the latter), and every .proto under protos/ (all
 * the other include directories), by path and content.
 */
function inputsHash() {
  const hash = createHash('sha256').update(JSON.stringify(args.slice(1)));
  for (const pkg of ['@grpc/proto-loader/package.json', 'protobufjs/package.json']) hash.update(fs.readFileSync(require.resolve(pkg)));
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.proto')) hash.update(`${path.relative(repo, full)}\0`).update(fs.readFileSync(full));
    }
  };
  walk(path.join(repo, 'protos'));
  return hash.digest('hex');
}

const stamp = path.join(out, '.inputs-sha256');
const inputs = inputsHash();
if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === inputs) process.exit(0);

fs.rmSync(out, { recursive: true, force: true });
// Its stderr carries only an "alpha tool" notice when it succeeds; a failure throws with it.
execFileSync(process.execPath, args, { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
fs.writeFileSync(stamp, inputs);

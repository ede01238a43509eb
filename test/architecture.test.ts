/**
 * The layering of DESIGN.md ("data flows top to bottom, nothing calls upward"),
 * checked against the imports a TypeScript parser (oxc) finds in every file under
 * src/ and plugins/: static, re-exported, dynamic and type-only imports and
 * `import('…')` types alike.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseSync, Visitor } from 'oxc-parser';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

/**
 * Folders from the bottom up; a folder may import only folders on a lower row.
 * A top-level file (src/errors.ts) counts as a folder of its own; src/app.ts and
 * src/app/ are one: the composition root that builds every subsystem from config.
 */
const layers: readonly (readonly string[])[] = [
  // src/generated: message types generated from the .proto files (npm run generate:protos).
  ['src/unsafe-text', 'src/generated'],
  ['src/errors', 'src/limits', 'src/clock', 'src/backoff', 'src/duration', 'src/package-root', 'src/bounded-read'],
  ['src/spiffe', 'src/net', 'src/x509', 'src/optional-import'],
  ['src/telemetry'],
  // src/state: what replicas share (the memory or PostgreSQL store).
  ['src/audit', 'src/upstream', 'src/keys', 'src/state'],
  // vault-transit keeps its keys behind the Vault plugin's session and client.
  ['plugins/vault'],
  // Plugins sit beside the core, never under it: only composition may load one.
  ['src/ca', 'plugins/*'],
  ['src/rotation', 'src/identity'],
  ['src/transport'],
  ['src/sds'],
  ['src/admin'],
  // The root config composes every subsystem's own schema.
  ['src/config'],
  ['src/app'],
  ['src/cli'],
];

/** The edges issue #12 names, kept explicit so reordering the table above cannot allow them. */
const forbidden: readonly { from: readonly string[]; to: readonly string[]; why: string }[] = [
  {
    from: ['src/ca', 'src/x509', 'src/keys'],
    to: ['src/sds', 'src/admin', 'src/cli', 'plugins/*'],
    why: 'the CA core knows no server, console or backend',
  },
  { from: ['src/identity'], to: ['src/sds'], why: 'identity decides who a caller is, whatever protocol asks' },
  { from: ['*'], to: ['src/cli'], why: 'the CLI is an entry point, never a library' },
];

/** All a plugin may import from src/: the upstream contract and SDK, and the key-manager contract. */
const pluginContract = ['src/upstream/types.ts', 'src/upstream/sdk/', 'src/keys/types.ts', 'src/keys/batcher.ts'];

interface Edge {
  file: string;
  target: string;
}

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sources(rel);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** A string literal's value, also inside a literal type (`import('./x.js')` in a type position). */
function literal(node: unknown): string | undefined {
  const n = node as { type?: string; value?: unknown; literal?: unknown } | null | undefined;
  if (n?.type === 'Literal' && typeof n.value === 'string') return n.value;
  return n?.type === 'TSLiteralType' ? literal(n.literal) : undefined;
}

/** Every module specifier a file names; a file that does not parse fails the suite. */
function specifiers(file: string): string[] {
  const parsed = parseSync(file, readFileSync(path.join(root, file), 'utf8'));
  if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors.map((e) => e.message).join('; ')}`);
  const found: (string | undefined)[] = [];
  new Visitor({
    ImportDeclaration: (n) => found.push(n.source.value),
    ExportNamedDeclaration: (n) => found.push(n.source?.value),
    ExportAllDeclaration: (n) => found.push(n.source.value),
    ImportExpression: (n) => found.push(literal(n.source)),
    TSImportType: (n) => found.push(literal(n.source)),
  }).visit(parsed.program);
  return found.filter((s): s is string => s !== undefined);
}

/** Relative imports of every source file, resolved to repository paths (".js" written, ".ts" on disk). */
function importEdges(): Edge[] {
  return [...sources('src'), ...sources('plugins')].flatMap((file) =>
    specifiers(file)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => ({
        file,
        target: path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts'),
      })),
  );
}

/** src/ca/authority.ts → src/ca; src/errors.ts → src/errors; src/app.ts → src/app; plugins/vault/x.ts → plugins/vault. */
function folderOf(file: string): string {
  const [top, second] = file.split('/');
  return `${top}/${second!.replace(/\.ts$/, '')}`;
}

const matches = (folder: string, pattern: string) =>
  pattern === '*' || pattern === folder || (pattern.endsWith('/*') && folder.startsWith(pattern.slice(0, -1)));

function layerOf(folder: string): number {
  return layers.findIndex((row) => row.some((pattern) => matches(folder, pattern)));
}

/** Strongly connected components with more than one folder (Tarjan). */
function folderCycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { file, target } of edges) {
    const [from, to] = [folderOf(file), folderOf(target)];
    if (from === to) continue;
    if (!next.has(from)) next.set(from, new Set());
    next.get(from)!.add(to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const node of next.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

const describeEdge = ({ file, target }: Edge) => `${file} imports ${target}`;

describe('architecture', () => {
  const edges = importEdges();
  const crossing = edges.filter(({ file, target }) => folderOf(file) !== folderOf(target));

  it('reads the imports (the parser finds the known edges)', () => {
    expect(edges.length).toBeGreaterThan(500);
    expect(edges).toContainEqual({ file: 'src/app.ts', target: 'src/ca/authority.ts' });
    // A type-only import and a dynamic one count like any other.
    expect(edges).toContainEqual({ file: 'src/admin/authority-handler.ts', target: 'src/ca/authority.ts' });
    expect(edges).toContainEqual({ file: 'src/state/create.ts', target: 'src/state/postgres/store.ts' });
  });

  it('places every folder in the layer table', () => {
    const folders = new Set(edges.flatMap(({ file, target }) => [folderOf(file), folderOf(target)]));
    expect([...folders].filter((folder) => layerOf(folder) < 0)).toEqual([]);
  });

  it('has no folder-level import cycles', () => {
    expect(folderCycles(edges)).toEqual([]);
  });

  it('imports only downward', () => {
    const upward = crossing.filter(({ file, target }) => layerOf(folderOf(target)) >= layerOf(folderOf(file)));
    expect(upward.map(describeEdge)).toEqual([]);
  });

  it('keeps the edges issue #12 forbids out', () => {
    const broken = forbidden.flatMap((rule) =>
      crossing
        .filter(({ file, target }) => rule.from.some((p) => matches(folderOf(file), p)) && rule.to.some((p) => matches(folderOf(target), p)))
        .map((edge) => `${describeEdge(edge)}: ${rule.why}`),
    );
    expect(broken).toEqual([]);
  });

  it('lets plugins import only the plugin contract and SDK from src/', () => {
    const inContract = (target: string) => pluginContract.some((allowed) => (allowed.endsWith('/') ? target.startsWith(allowed) : target === allowed));
    const outside = crossing.filter(({ file, target }) => file.startsWith('plugins/') && target.startsWith('src/') && !inContract(target));
    expect(outside.map(describeEdge)).toEqual([]);
  });
});

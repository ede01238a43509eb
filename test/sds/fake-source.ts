import { WcaError } from '../../src/errors.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { ErrorDetail, Resource, ResourceSource } from '../../src/sds/types.js';

/** A ResourceSource whose values tests set by hand; names outside `allowed` are denied. */
export class FakeSource implements ResourceSource {
  private readonly values = new Map<string, Resource>();
  private readonly watchers = new Map<string, Set<(r: Resource) => void>>();

  constructor(private readonly allowed: readonly string[] = ['default', 'ROOTCA']) {}

  check(name: string): void {
    if (!this.allowed.includes(name)) throw new WcaError('ERR_SDS_UNKNOWN_RESOURCE', `resource "${name}" is not available`);
  }

  watch(name: string, onChange: (r: Resource) => void): () => void {
    this.check(name);
    const set = this.watchers.get(name) ?? new Set();
    this.watchers.set(name, set);
    set.add(onChange);
    const current = this.values.get(name);
    if (current) onChange(current);
    return () => void set.delete(onChange);
  }

  set(name: string, version: string): void {
    const resource = { name, version, typeUrl: 'test', value: Buffer.from(`${name}@${version}`) };
    this.values.set(name, resource);
    this.watchers.get(name)?.forEach((w) => w(resource));
  }

  watching(name: string): number {
    return this.watchers.get(name)?.size ?? 0;
  }
}

export function recorder<T>() {
  const sent: T[] = [];
  const nacks: { names: readonly string[]; detail: ErrorDetail }[] = [];
  return {
    sent,
    nacks,
    deps: (source: ResourceSource) => ({
      source,
      send: (r: T) => void sent.push(r),
      logger: silentLogger(),
      onNack: (names: readonly string[], detail: ErrorDetail) => void nacks.push({ names, detail }),
    }),
  };
}

import { WcaError } from '../../src/errors.js';
import { packResource } from '../../src/sds/encode.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { UnknownName } from '../../src/sds/subscription.js';
import type { ErrorDetail, Resource, ResourceSource } from '../../src/sds/types.js';

/**
 * A ResourceSource whose values tests set by hand. Like the real one: a spiffe://
 * name outside `allowed` is denied, any other name outside it does not exist.
 */
export class FakeSource implements ResourceSource {
  private readonly values = new Map<string, Resource>();
  private readonly watchers = new Map<string, Set<(r: Resource) => void>>();

  constructor(private readonly allowed: readonly string[] = ['default', 'ROOTCA']) {}

  check(name: string): WcaError | undefined {
    if (this.allowed.includes(name)) return undefined;
    if (name.startsWith('spiffe://')) throw new WcaError('ERR_PERMISSION_DENIED', `resource "${name}" is not available`);
    return new WcaError('ERR_SDS_UNKNOWN_RESOURCE', `resource "${name}" does not exist here`);
  }

  watch(name: string, onChange: (r: Resource) => void): () => void {
    const unknown = this.check(name);
    if (unknown) throw unknown;
    const set = this.watchers.get(name) ?? new Set();
    this.watchers.set(name, set);
    set.add(onChange);
    const current = this.values.get(name);
    if (current) onChange(current);
    return () => void set.delete(onChange);
  }

  set(name: string, version: string): void {
    const resource = packResource(name, version, 'test', Buffer.from(`${name}@${version}`));
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
  const unknown: UnknownName[] = [];
  return {
    sent,
    nacks,
    unknown,
    deps: (source: ResourceSource) => ({
      source,
      send: (r: T) => void sent.push(r),
      logger: silentLogger(),
      onNack: (names: readonly string[], detail: ErrorDetail) => void nacks.push({ names, detail }),
      onUnknown: (u: UnknownName) => void unknown.push(u),
    }),
  };
}

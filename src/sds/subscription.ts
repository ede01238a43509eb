import type { Resource, ResourceSource } from './types.js';

interface Slot {
  cancel: () => void;
  current?: Resource;
}

/**
 * The names one stream subscribes to, a watch per name, and the latest value of
 * each. Both protocol variants keep their subscription here, not in loose locals.
 */
export class Subscription {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly source: ResourceSource,
    private readonly onChange: (name: string) => void,
  ) {}

  get names(): string[] {
    return [...this.slots.keys()].sort();
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  /** Checks every name before watching any, so a denial leaves the subscription unchanged. */
  add(names: readonly string[]): void {
    const added = names.filter((name) => !this.slots.has(name));
    added.forEach((name) => this.source.check(name));
    for (const name of added) {
      const slot: Slot = { cancel: () => {} };
      this.slots.set(name, slot);
      slot.cancel = this.source.watch(name, (resource) => {
        slot.current = resource;
        if (this.slots.get(name) === slot) this.onChange(name);
      });
    }
  }

  remove(names: readonly string[]): void {
    for (const name of names) {
      this.slots.get(name)?.cancel();
      this.slots.delete(name);
    }
  }

  /** Makes the subscription exactly `names`; checks the new ones first. */
  replace(names: readonly string[]): boolean {
    const wanted = new Set(names);
    const dropped = this.names.filter((name) => !wanted.has(name));
    const added = names.filter((name) => !this.slots.has(name));
    if (dropped.length === 0 && added.length === 0) return false;
    added.forEach((name) => this.source.check(name));
    this.remove(dropped);
    this.add(added);
    return true;
  }

  /** Resources whose value is known, in name order. */
  available(): Resource[] {
    return this.names.flatMap((name) => {
      const current = this.slots.get(name)?.current;
      return current ? [current] : [];
    });
  }

  close(): void {
    this.remove([...this.slots.keys()]);
  }
}

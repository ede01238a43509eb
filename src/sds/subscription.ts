import { WcaError } from '../errors.js';
import { limits } from '../limits.js';
import type { Resource, ResourceSource } from './types.js';

interface Slot {
  cancel: () => void;
  current?: Resource;
  /** Set when the name will never exist here. */
  unknown?: UnknownName;
}

/** A subscribed name that will never exist here, and why (for the log, or a unary answer). */
export interface UnknownName {
  readonly name: string;
  readonly reason: WcaError;
}

const noWatch = () => {};

/**
 * The names one stream subscribes to (at most limits.sdsStreamNamesMax), a watch
 * per name, and the latest value of each. Both protocol variants keep their
 * subscription here, not in loose locals. A name that will never exist (a typo)
 * stays subscribed without a watch, so it is never sent, and a later request
 * listing it again is not a change.
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

  /** The subscribed name's reason never to exist, or undefined (not subscribed, or it exists). */
  unknown(name: string): UnknownName | undefined {
    return this.slots.get(name)?.unknown;
  }

  /** The subscribed name's latest value, if known. */
  current(name: string): Resource | undefined {
    return this.slots.get(name)?.current;
  }

  /**
   * Checks every name before watching any, so a denial or the cap leaves the
   * subscription unchanged. Returns the newly added names that will never exist.
   */
  add(names: readonly string[]): UnknownName[] {
    const added = names.filter((name) => !this.slots.has(name));
    this.checkCap(this.slots.size + added.length);
    return this.insert(added, added.map((name) => this.source.check(name)));
  }

  remove(names: readonly string[]): void {
    for (const name of names) {
      this.slots.get(name)?.cancel();
      this.slots.delete(name);
    }
  }

  /** Makes the subscription exactly `names`, checking the new ones first; returns the new unknown names. */
  replace(names: readonly string[]): UnknownName[] {
    const wanted = new Set(names);
    const dropped = this.names.filter((name) => !wanted.has(name));
    const added = names.filter((name) => !this.slots.has(name));
    this.checkCap(wanted.size);
    const reasons = added.map((name) => this.source.check(name));
    this.remove(dropped);
    return this.insert(added, reasons);
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

  /** Unknown names count too: a client cycling through names that never exist must not grow the stream. */
  private checkCap(size: number): void {
    if (size <= limits.sdsStreamNamesMax) return;
    throw new WcaError('ERR_SDS_LIMIT', `the stream would subscribe ${size} names (limit ${limits.sdsStreamNamesMax}); unsubscribe some first`, {
      details: { reason: 'stream-names', max: limits.sdsStreamNamesMax },
    });
  }

  private insert(added: readonly string[], reasons: readonly (WcaError | undefined)[]): UnknownName[] {
    const unknown: UnknownName[] = [];
    added.forEach((name, i) => {
      const slot: Slot = { cancel: noWatch };
      this.slots.set(name, slot);
      const reason = reasons[i];
      if (reason) {
        slot.unknown = { name, reason };
        unknown.push(slot.unknown);
        return;
      }
      slot.cancel = this.source.watch(name, (resource) => {
        slot.current = resource;
        if (this.slots.get(name) === slot) this.onChange(name);
      });
    });
    return unknown;
  }
}

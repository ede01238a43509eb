import { limits } from '../limits.js';

/** One authority as the heartbeat lists it (`authority show` without per-node lists). */
export interface StatusAuthority {
  id: string;
  state: string;
  since: string;
  reason: string;
  [field: string]: unknown;
}

export interface StatusParts {
  /** Counters and versions: small and fixed in size. */
  summary: Readonly<Record<string, unknown>>;
  authorities: readonly StatusAuthority[];
  /** Chains peers accept renewals under, newest first. */
  intermediates: readonly string[];
  /** Chains of tainted authorities, newest first: peers refuse renewals under them with the reason. */
  taintedIntermediates: readonly string[];
}

/** The states that sign or are about to: a peer needs these; tainted and revoked ones are history. */
const SERVING = new Set(['prepared', 'active', 'old']);

const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/**
 * The heartbeat status, within `maxBytes` by construction. A rotation flood leaves
 * tainted authorities listed until they expire; a status that outgrew the store's
 * limit made every heartbeat fail and the replica drop out of the fleet. So the
 * serving authorities and their chains always go in, then the tainted ones newest
 * first as long as they fit; `authorities_omitted` / `tainted_intermediates_omitted`
 * say how many did not.
 */
export function boundedStatus(parts: StatusParts, maxBytes: number = limits.replicaStatusMaxBytes): Record<string, unknown> {
  const cut = (a: StatusAuthority): StatusAuthority => ({ ...a, reason: a.reason.slice(0, limits.heartbeatReasonMaxChars) });
  const newestFirst = (a: StatusAuthority, b: StatusAuthority) => (a.since < b.since ? 1 : a.since > b.since ? -1 : 0);
  const serving = parts.authorities.filter((a) => SERVING.has(a.state)).map(cut);
  const history = parts.authorities.filter((a) => !SERVING.has(a.state)).map(cut).sort(newestFirst);

  const authorities = [...serving];
  const tainted: string[] = [];
  const status = () => ({
    ...parts.summary,
    authorities,
    intermediates: parts.intermediates,
    taintedIntermediates: tainted,
    authorities_omitted: parts.authorities.length - authorities.length,
    tainted_intermediates_omitted: parts.taintedIntermediates.length - tainted.length,
  });
  // The omitted counts can grow by a few digits as entries go in: keep room for them.
  const budget = maxBytes - 32;
  let used = size(status());
  for (const a of history) {
    const more = size(a) + 1;
    if (used + more > budget) break;
    authorities.push(a);
    used += more;
  }
  for (const chain of parts.taintedIntermediates) {
    const more = size(chain) + 1;
    if (used + more > budget) break;
    tainted.push(chain);
    used += more;
  }
  return status();
}

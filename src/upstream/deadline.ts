/**
 * The adapter between a plugin and the core: every call into a plugin gets a
 * deadline here, in one place, so a plugin that hangs (a stalled TCP connection,
 * a poll that never ends, a bug) becomes an ERR_UPSTREAM_TIMEOUT the rotator
 * counts and retries, instead of a promise that never settles and silently
 * freezes rotation until the intermediate expires.
 */
import { WcaError, type ReasonOf } from '../errors.js';
import type { MintRequest, UpstreamAuthority } from './types.js';
import type { Schedule } from './sdk/schedule.js';

export interface DeadlineOptions {
  /** Longest a single plugin call may take. */
  timeoutMs: number;
  /** The injected clock's timer, so tests move time instead of waiting. */
  schedule: Schedule;
}

export type TimeoutReason = ReasonOf<'ERR_UPSTREAM_TIMEOUT'>;

function timeoutError(plugin: string, operation: string, reason: TimeoutReason, timeoutMs: number): WcaError {
  const message =
    reason === 'deadline'
      ? `upstream "${plugin}": ${operation} got no answer within ${timeoutMs} ms (upstream.timeout)`
      : `upstream "${plugin}": ${operation} was cancelled`;
  return new WcaError('ERR_UPSTREAM_TIMEOUT', message, { details: { plugin, operation, reason, timeoutMs } });
}

/**
 * Runs `call` with a signal that aborts at the deadline or when `outer` aborts,
 * and settles by then whether or not the plugin honours the signal. A late
 * answer is dropped.
 */
export function callWithDeadline<T>(
  plugin: string,
  operation: string,
  options: DeadlineOptions,
  outer: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const controller = new AbortController();
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      cancelTimer();
      outer?.removeEventListener('abort', onOuterAbort);
      finish();
    };
    const fail = (reason: TimeoutReason) => {
      const err = timeoutError(plugin, operation, reason, options.timeoutMs);
      controller.abort(err);
      settle(() => reject(err));
    };
    const onOuterAbort = () => fail('aborted');
    const cancelTimer = options.schedule(() => fail('deadline'), options.timeoutMs);
    if (outer?.aborted) return fail('aborted');
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    // A plugin that throws synchronously is a rejection like any other.
    Promise.resolve()
      .then(() => call(controller.signal))
      .then(
        (value) => settle(() => resolve(value)),
        (err: unknown) => settle(() => reject(err)),
      );
  });
}

/** The contract's optional methods; the table below must cover each, or this file does not compile. */
type OptionalMethod = { [K in keyof UpstreamAuthority]-?: undefined extends UpstreamAuthority[K] ? K : never }[keyof UpstreamAuthority];

type Bounded = <T>(operation: string, outer: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>) => Promise<T>;

const optionalMethods: { [K in OptionalMethod]: (u: UpstreamAuthority, bounded: Bounded) => NonNullable<UpstreamAuthority[K]> } = {
  fetchRoots: (u, bounded) => (signal) => bounded('fetchRoots', signal, (s) => u.fetchRoots!(s)),
  checkCredentials: (u, bounded) => (signal) => bounded('checkCredentials', signal, (s) => u.checkCredentials!(s)),
  revoke: (u, bounded) => (serialHex, signal) => bounded('revoke', signal, (s) => u.revoke!(serialHex, s)),
};

/** The plugin's authority with every call bounded by the deadline; optional methods stay absent when the plugin lacks them. */
export function withDeadline(upstream: UpstreamAuthority, options: DeadlineOptions): UpstreamAuthority {
  const bounded: Bounded = (operation, outer, call) => callWithDeadline(upstream.name, operation, options, outer, call);
  const adapted: UpstreamAuthority = {
    name: upstream.name,
    mintIntermediate: (request: MintRequest, signal?: AbortSignal) =>
      bounded('mintIntermediate', signal, (s) => upstream.mintIntermediate(request, s)),
    close: () => bounded('close', undefined, () => upstream.close()),
  };
  for (const method of Object.keys(optionalMethods) as OptionalMethod[]) {
    if (upstream[method]) Object.assign(adapted, { [method]: optionalMethods[method](upstream, bounded) });
  }
  return adapted;
}

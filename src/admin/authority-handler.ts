import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { WcaError } from '../errors.js';
import type { Authority } from '../ca/authority.js';
import { isBlankReason, type AuthorityInfo } from '../ca/authority-states.js';
import { hasUnsafe } from '../unsafe-text.js';
import type { AuditLog } from '../audit/log.js';
import { auditTypes, type AuditType } from '../audit/events.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { UpstreamAuthority } from '../upstream/types.js';
import type { ConvergenceTracker } from '../sds/convergence.js';
import { pemBlocks } from '../x509/der.js';
import { limits } from '../limits.js';
import type * as pb from './authority-proto.js';

/** What the authority admin calls act on; app.ts builds it from the running subsystems. */
export interface AuthorityAdminDeps {
  authority: Pick<Authority, 'authorities' | 'prepareNext' | 'activate' | 'taint' | 'revoke' | 'bundle' | 'trustDomain' | 'rootsOf' | 'exclusive'>;
  convergence: ConvergenceTracker;
  /** Share of bundle subscribers that must ACK a bundle with a new root before an emergency activates under it (rotation.rootBundleAckShare); default all. */
  rootBundleAckShare?: number;
  audit: AuditLog;
  upstream: Pick<UpstreamAuthority, 'name' | 'revoke'>;
  clock: Clock;
  logger: Logger;
}

const iso = (ms: number) => new Date(ms).toISOString();

function parse<T>(schema: z.ZodType<T>, rpc: string, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
  throw new WcaError('ERR_USAGE', `invalid ${rpc} request: ${problems}`);
}

const id = z.string().regex(/^[0-9a-f]{2,128}$/, 'is an authority ID: lower-case hex as "authority show" prints it');
/** The operator's (or a fleet peer's) words for the audit log and `authority show`: plain, visible text, or empty for the default. */
const reason = z
  .string()
  .max(limits.adminReasonMaxLength)
  .refine((s) => !hasUnsafe(s), 'contains control characters (line breaks, ESC, bidi overrides); write plain text')
  .refine((s) => s === '' || !isBlankReason(s), 'is blank: only spaces or invisible characters');
const transition = z.object({ id, reason });
const revoke = z.object({ id, reason, force: z.boolean(), upstream: z.boolean() });
const emergency = z.object({ reason, deadline_seconds: z.number().int().min(0).max(limits.emergencyRotateDeadlineMaxSeconds) });
const auditQuery = z.object({
  limit: z.number().int().min(0).max(limits.auditTailMax),
  after_seq: z.union([z.string(), z.number()]).transform(Number).pipe(z.number().int().min(0)),
  types: z.array(z.enum(auditTypes as [AuditType, ...AuditType[]])).max(auditTypes.length),
});

export function authorityStatus(deps: AuthorityAdminDeps): pb.AuthorityStatus {
  const list = deps.authority.authorities();
  const active = list.find((a) => a.state === 'active');
  const bundle = deps.authority.bundle();
  const fleet = deps.convergence.summary(active?.id, bundle.version);
  return {
    authorities: list.map((a) => describe(deps, a)),
    bundle_version: bundle.version,
    subscribers: fleet.subscribers,
    converged: fleet.converged,
    bundle_acked: fleet.bundleAcked,
    bundle_subscribers: fleet.bundleSubscribers,
  };
}

function describe(deps: AuthorityAdminDeps, a: AuthorityInfo): pb.Authority {
  return {
    id: a.id,
    state: a.state,
    not_before: iso(a.notBeforeMs),
    not_after: iso(a.notAfterMs),
    since: iso(a.sinceMs),
    reason: a.reason,
    subscribers: deps.convergence.countsFor(a.id),
    nacked_nodes: deps.convergence.nackedNodes(a.id),
  };
}

export async function prepareAuthority(deps: AuthorityAdminDeps, raw: pb.PrepareAuthorityRequest): Promise<pb.AuthorityStatus> {
  const r = parse(z.object({ reason }), 'PrepareAuthority', raw);
  await deps.authority.prepareNext(undefined, r.reason || 'operator');
  return authorityStatus(deps);
}

export function activateAuthority(deps: AuthorityAdminDeps, raw: pb.AuthorityTransitionRequest): pb.AuthorityStatus {
  const r = parse(transition, 'ActivateAuthority', raw);
  deps.authority.activate(r.id, r.reason || 'operator');
  return authorityStatus(deps);
}

export function taintAuthority(deps: AuthorityAdminDeps, raw: pb.AuthorityTransitionRequest): pb.AuthorityStatus {
  const r = parse(transition, 'TaintAuthority', raw);
  deps.authority.taint(r.id, r.reason || 'operator');
  return authorityStatus(deps);
}

export async function revokeAuthority(deps: AuthorityAdminDeps, raw: pb.RevokeAuthorityRequest): Promise<pb.AuthorityStatus> {
  const r = parse(revoke, 'RevokeAuthority', raw);
  if (r.upstream && !deps.upstream.revoke) {
    throw new WcaError('ERR_UPSTREAM_CONFIG', `upstream "${deps.upstream.name}" cannot revoke certificates; revoke without --upstream`, {
      details: { reason: 'no-revoke' },
    });
  }
  const slot = deps.authority.revoke(r.id, { reason: r.reason, force: r.force, holders: deps.convergence.holders(r.id) });
  if (r.upstream) {
    const serial = new X509Certificate(pemBlocks(slot.signing.chainPemSuffix)[0]!).serialNumber;
    // Revoked here already: an upstream failure is reported, the local revocation stands.
    await deps.upstream.revoke!(serial);
    deps.logger.info({ caId: r.id, serial, upstream: deps.upstream.name }, 'intermediate revoked at the upstream');
  }
  return authorityStatus(deps);
}

/**
 * The one-call re-key: prepare through the upstream, activate, taint the previous
 * authority (its subscribers are re-issued at once, paced by the signer pool), then
 * wait for every connected subscriber's ACK of a leaf under the new one.
 */
export async function emergencyRotate(deps: AuthorityAdminDeps, raw: pb.EmergencyRotateRequest): Promise<pb.EmergencyRotateResponse> {
  const r = checkEmergencyRotate(raw);
  const why = `emergency: ${r.reason || 'operator'}`;
  const started = deps.clock.now();
  const deadlineMs = started + (r.deadline_seconds || limits.emergencyRotateDeadlineDefaultSeconds) * 1000;
  // One change at a time: a second emergency is refused (in-progress) before it revokes or mints anything.
  const { fresh, previous } = await deps.authority.exclusive('emergency rotation', async () => {
    const previous = deps.authority.authorities().find((a) => a.state === 'active')?.id;
    const waiting = deps.authority.authorities().find((a) => a.state === 'prepared');
    // A prepared authority may already be known to peers; an emergency wants a fresh key.
    if (waiting) deps.authority.revoke(waiting.id, { reason: why, force: true });
    const activeRoots = new Set(deps.authority.rootsOf('active').map((pem) => pem.trim()));
    const fresh = await deps.authority.prepareNext(undefined, why);
    // Trust before use, even in an emergency: a leaf under a root the peers do not trust yet fails their handshakes.
    if (deps.authority.rootsOf('prepared').some((pem) => !activeRoots.has(pem.trim()))) await waitForNewRoot(deps, deadlineMs);
    deps.authority.activate(fresh.id, why);
    if (previous) deps.authority.taint(previous, why);
    return { fresh, previous };
  });
  // The change is done; waiting for the subscribers' ACKs does not hold other changes back.
  const done = await deps.convergence.waitForAuthority(fresh.id, deadlineMs);
  return {
    new_authority_id: fresh.id,
    tainted_authority_id: previous ?? '',
    subscribers: done.subscribers,
    converged: done.converged,
    complete: done.complete,
    waited_ms: Math.max(0, deps.clock.now() - started),
  };
}

/** The request checked (ERR_USAGE) before anything happens, here or on other replicas. */
export function checkEmergencyRotate(raw: pb.EmergencyRotateRequest): z.infer<typeof emergency> {
  return parse(emergency, 'EmergencyRotate', raw);
}

/** A taint or revoke checked (ERR_USAGE) before it is sent to another replica. */
export function checkTransition(rpc: 'TaintAuthority' | 'RevokeAuthority', raw: pb.AuthorityTransitionRequest): z.infer<typeof transition> {
  return parse(transition, rpc, raw);
}

/**
 * The new authority chains to a root the active one does not (the upstream's root
 * changed before the root watcher saw it): wait for the subscribers' ACKs of the
 * bundle that now carries it. Past the deadline the emergency goes ahead, logged:
 * staying on a suspect key is the worse outage.
 */
async function waitForNewRoot(deps: AuthorityAdminDeps, deadlineMs: number): Promise<void> {
  const bundle = deps.authority.bundle();
  const acks = await deps.convergence.waitForBundle(bundle.version, deps.rootBundleAckShare ?? 1, deadlineMs);
  const fields = { bundle: bundle.version, acked: acks.converged, subscribers: acks.subscribers };
  if (acks.complete) deps.logger.info(fields, 'bundle with the new root acknowledged; activating the emergency authority');
  else deps.logger.warn(fields, 'deadline passed before the bundle with the new root was acknowledged; activating the emergency authority anyway');
}

export function getBundle(deps: AuthorityAdminDeps): pb.GetBundleResponse {
  const b = deps.authority.bundle();
  return { trust_domain: b.trustDomain, version: b.version, roots_pem: pemBlocks(b.pem).map((der) => new X509Certificate(der).toString()) };
}

export function listAuditEvents(deps: AuthorityAdminDeps, raw: pb.ListAuditEventsRequest): pb.ListAuditEventsResponse {
  const r = parse(auditQuery, 'ListAuditEvents', raw);
  const events = deps.audit.tail({ limit: r.limit || 100, afterSeq: r.after_seq, types: r.types });
  return { events: events.map((e) => ({ seq: String(e.seq), time: e.time, type: e.type, json: JSON.stringify(e) })) };
}

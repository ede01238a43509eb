/**
 * What the audit log records. Every field is chosen, never spread from a larger
 * object, so no key, token or credential can reach the log by accident.
 */
export type AuditEvent =
  | {
      type: 'issuance';
      serial: string;
      spiffeId: string;
      notAfter: string;
      authorityId: string;
      /** How the subscriber was authenticated and which Envoy node it is, when issued for an SDS caller. */
      authenticator?: string;
      nodeId?: string;
    }
  | { type: 'denial'; who: string; what: string; why: string; code: string }
  | { type: 'transition'; authorityId: string; from: string | null; to: string; reason: string }
  | { type: 'bundle'; version: string; roots: number }
  | { type: 'join-token'; action: 'created' | 'used'; tokenId: string; spiffeId: string; claimant?: string }
  | { type: 'admin'; rpc: string; caller: string; outcome: 'ok' | 'sent' | 'error'; code?: string; detail?: Readonly<Record<string, string | number | boolean>> };

/** A recorded event: its sequence number (gaps show ring overflow to a reader) and time. */
export type AuditRecord = AuditEvent & { seq: number; time: string };

export type AuditType = AuditEvent['type'];
export const auditTypes: readonly AuditType[] = ['issuance', 'denial', 'transition', 'bundle', 'join-token', 'admin'];

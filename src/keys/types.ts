/**
 * The KeyManager contract: where an intermediate CA's private key lives. The CA
 * core asks for a fresh key per intermediate and signs through it; it never sees
 * private key bytes. Two kinds exist:
 *
 * - an in-process key (`memory`): a KeyObject that the signer threads use
 *   directly, never serialised (today's fast path);
 * - a remote key (Vault Transit, later AWS KMS or a PKCS#11 token): signing is a
 *   call out of the process; the manager may batch concurrent calls.
 *
 * Shaped after SPIRE's KeyManager (GenerateKey → public key + crypto.Signer).
 */
import type crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { KeyType } from '../x509/key-types.js';

/** Part of the contract: a key-manager plugin is asked for keys of these types. */
export type { KeyType };

export interface CaKey {
  /** Stable, non-secret name for logs (e.g. "transit:workload-ca:v3"). */
  readonly id: string;
  readonly keyType: KeyType;
  /** DER SubjectPublicKeyInfo: what the intermediate certificate certifies. */
  readonly publicKeySpki: Buffer;
  /**
   * Signs `data` (a TBSCertificate or CertificationRequestInfo) with the key's
   * hash (SHA-256 for P-256 and RSA, SHA-384 for P-384). ECDSA signatures come
   * back DER-encoded (X.509's form), RSA as PKCS#1 v1.5. Remote keys hash here
   * and send only the digest.
   */
  sign(data: Buffer, signal?: AbortSignal): Promise<Buffer>;
  /**
   * Present only for keys held in this process: the signer threads sign leaves
   * with it directly (structured clone in memory, never exported).
   */
  readonly keyObject?: crypto.KeyObject;
}

export interface KeyManager {
  readonly name: string;
  /** A new key for the next intermediate (remote managers: a new key version). */
  generateKey(keyType: KeyType, signal?: AbortSignal): Promise<CaKey>;
  /**
   * The intermediate certified for `key` is valid until `untilMs`, so leaves
   * signed with it end by then: a remote manager keeps the key until that time
   * and may trim it afterwards.
   */
  retainUntil(key: CaKey, untilMs: number): void;
  /**
   * Dry run for `upstream check`: credentials accepted and the key usable, without
   * creating, rotating or signing anything. Returns one line for the report.
   */
  check?(signal?: AbortSignal): Promise<string>;
  /** Remote managers: why signing is failing now (the last signing call failed), for readiness; undefined when healthy. */
  signingProblem?(): string | undefined;
  close(): Promise<void>;
}

export interface KeyManagerContext {
  logger: Logger;
  /** Milliseconds since epoch (injected clock). */
  now(): number;
  /** Process environment, for secrets named in the config. */
  env: Readonly<Record<string, string | undefined>>;
  /** Runs fn after ms on the injected clock; returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
  /**
   * The configured intermediate lifetime: key versions this process did not
   * create may have certified an intermediate until at most this long after start.
   */
  intermediateTtlSeconds: number;
  /** Remote managers report each signing call here (batch size, how it ended) for metrics. */
  observeSignCall?(batchSize: number, outcome: 'ok' | 'error' | 'timeout'): void;
}

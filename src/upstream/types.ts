/**
 * The UpstreamAuthority contract: the only thing the CA core knows about Vault,
 * AWS Private CA, an HSM, a key file or the dev root. Plugins import this file
 * (and zod for their config schema) and nothing else from src/.
 */
import type { ZodType } from 'zod';
import type { Logger } from 'pino';

export interface MintRequest {
  /** PKCS#10 CSR for our intermediate, DER and PEM (same bytes). */
  csrDer: Uint8Array;
  csrPem: string;
  /** Our SPIFFE trust domain, e.g. "cluster.local"; the CSR's URI SAN is spiffe://<td>. */
  trustDomain: string;
  /** Requested lifetime. Upstreams may cut it short; the core checks and reports that. */
  ttlSeconds: number;
}

export interface MintResult {
  /** Our new intermediate CA certificate, PEM. */
  certificatePem: string;
  /** Certificates between ours and the root, nearest first, PEM. Empty if the root signed us. */
  upstreamChainPem: string[];
  /** Root certificates to publish in the trust bundle, PEM. */
  rootsPem: string[];
  /** Non-fatal notes from the upstream (e.g. Vault's clamped-TTL warnings). */
  warnings?: string[];
}

export interface UpstreamAuthority {
  readonly name: string;
  mintIntermediate(request: MintRequest, signal?: AbortSignal): Promise<MintResult>;
  /** Current upstream roots; the core polls this to learn about root rotation. */
  fetchRoots?(signal?: AbortSignal): Promise<string[]>;
  /**
   * Proves the credentials work now (a login, a token lookup) without issuing
   * anything; resolves with one line for `upstream check`. Optional.
   */
  checkCredentials?(signal?: AbortSignal): Promise<string>;
  /**
   * Revokes a certificate this upstream issued (one of our intermediates) by its
   * serial number in hex (colons allowed), so the upstream's CRL lists it. Optional:
   * not every upstream can revoke.
   */
  revoke?(serialHex: string, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface PluginContext {
  logger: Logger;
  /** Milliseconds since epoch; injected so tests control time. */
  now(): number;
  /** Whether the process runs the dev profile (plugins may warn in production). */
  devProfile: boolean;
  /** Process environment, injected so tests need not mutate process.env. */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Runs fn after ms on the injected clock (token renewal, backoff); returns a
   * cancel function. Optional: plugins fall back to an unref'd setTimeout.
   */
  schedule?(fn: () => void, ms: number): () => void;
}

export interface UpstreamPlugin<Config = unknown> {
  readonly name: string;
  /** Validated at load; errors name the field path. */
  readonly configSchema: ZodType<Config>;
  create(config: Config, context: PluginContext): Promise<UpstreamAuthority>;
}

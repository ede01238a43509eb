/**
 * The UpstreamAuthority over Vault PKI: sign-intermediate for our CSR, the
 * issuer's chain split into intermediates and roots, Vault's warnings passed on.
 * Checking the answer (right key, a CA, chains to the roots, lifetime) is the
 * core's job (src/upstream/validate.ts); this file only reads what Vault said.
 */
import * as x509 from '@peculiar/x509';
import type { Logger } from 'pino';
import { splitChain } from '../../src/upstream/sdk/chain.js';
import { WcaError } from '../../src/upstream/sdk/errors.js';
import type { MintRequest, MintResult, UpstreamAuthority } from '../../src/upstream/types.js';
import type { VaultAuth } from './auth.js';
import type { VaultClient, VaultResponse } from './client.js';
import type { VaultConfig } from './config.js';
import { vaultBadResponse } from './errors.js';

const DEFAULT_CN = 'workload-ca intermediate';

function commonNameOf(csrPem: string): string | undefined {
  try {
    return new x509.Pkcs10CertificateRequest(csrPem).subjectName.getField('CN')[0];
  } catch {
    return undefined; // Vault parses the CSR itself and says precisely what is wrong with it.
  }
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export class VaultAuthority implements UpstreamAuthority {
  readonly name = 'vault';

  constructor(
    private readonly config: VaultConfig,
    private readonly client: VaultClient,
    private readonly auth: VaultAuth,
    private readonly logger: Logger,
  ) {}

  async mintIntermediate(request: MintRequest, signal?: AbortSignal): Promise<MintResult> {
    const path = this.config.paths.sign;
    const token = await this.auth.token(signal);
    const res = await this.client.write(
      path,
      {
        csr: request.csrPem,
        common_name: this.config.commonName ?? commonNameOf(request.csrPem) ?? DEFAULT_CN,
        uri_sans: `spiffe://${request.trustDomain}`,
        ttl: `${Math.floor(request.ttlSeconds)}s`,
        format: 'pem',
        // We only sign leaves: least privilege for the certificate Vault hands us.
        max_path_length: 0,
        exclude_cn_from_sans: true,
        use_csr_values: false,
      },
      { operation: 'pki', token, signal },
    );
    const certificatePem = res.data?.certificate;
    if (typeof certificatePem !== 'string' || certificatePem === '') {
      throw vaultBadResponse(path, 'answer has no data.certificate');
    }
    // ca_chain is the issuer's chain up to the root (Vault ≥ 1.11); issuing_ca alone on older versions.
    const issuerChain = stringList(res.data?.ca_chain ?? res.data?.issuing_ca);
    if (issuerChain.length === 0) throw vaultBadResponse(path, 'answer has neither data.ca_chain nor data.issuing_ca');
    const { chainPem, rootsPem } = splitChain(issuerChain, `vault: ${path} ca_chain`);
    const roots = rootsPem.length > 0 ? rootsPem : await this.fetchRoots(signal);

    const warnings = stringList(res.warnings);
    for (const warning of warnings) this.logger.warn({ plugin: 'vault', path, warning }, 'vault: warning from Vault');
    return { certificatePem, upstreamChainPem: chainPem, rootsPem: roots, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  async fetchRoots(signal?: AbortSignal): Promise<string[]> {
    const path = this.config.paths.bundle;
    // Both bundle endpoints are unauthenticated: roots stay readable even when our token is not.
    const res: VaultResponse = await this.client.read(path, { operation: 'pki', signal });
    const chain = stringList(res.data?.ca_chain ?? res.data?.certificate);
    if (chain.length === 0) throw vaultBadResponse(path, 'answer has no data.ca_chain');
    const { rootsPem } = splitChain(chain, `vault: ${path}`);
    if (rootsPem.length === 0) {
      throw new WcaError(
        'ERR_UPSTREAM_CHAIN',
        `vault: the chain of ${path} does not reach a self-signed root; import the root into the mount so Vault knows the full chain`,
        { details: { plugin: 'vault', path } },
      );
    }
    return rootsPem;
  }

  async close(): Promise<void> {
    this.auth.close();
  }
}

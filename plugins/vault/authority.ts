/**
 * The UpstreamAuthority over Vault PKI: sign-intermediate for our CSR, the
 * issuer's chain split into intermediates and roots, Vault's unexpected
 * warnings passed on, revocation by serial. Checking the answer (right key, a
 * CA, chains to the roots, lifetime) is the core's job (src/upstream/validate.ts);
 * this file reads what Vault said and keeps our certificate inside its issuer's
 * lifetime, which Vault truncates to but OpenBao 2.7 does not.
 */
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { Logger } from 'pino';
import { splitChain } from '../../src/upstream/sdk/chain.js';
import { WcaError } from '../../src/upstream/sdk/errors.js';
import { parseCertificates } from '../../src/upstream/sdk/pem.js';
import { colonHexSerial } from '../../src/upstream/sdk/serial.js';
import type { MintRequest, MintResult, UpstreamAuthority } from '../../src/upstream/types.js';
import { chainEndMs, classifyWarnings, issuerChainOf, pemOf, stringList } from './answer.js';
import type { VaultAuth } from './auth.js';
import type { VaultClient } from './client.js';
import type { VaultConfig } from './config.js';
import { vaultBadResponse } from './errors.js';

const DEFAULT_CN = 'workload-ca intermediate';

/**
 * Asked-for lifetime stops this long before the issuer's end, so Vault's clock
 * running a little ahead of ours cannot push our notAfter past the issuer's.
 */
const issuerEndMarginSeconds = 60;

function commonNameOf(csrPem: string): string | undefined {
  try {
    return new x509.Pkcs10CertificateRequest(csrPem).subjectName.getField('CN')[0];
  } catch {
    return undefined; // Vault parses the CSR itself and says precisely what is wrong with it.
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

export class VaultAuthority implements UpstreamAuthority {
  readonly name = 'vault';

  constructor(
    private readonly config: VaultConfig,
    private readonly client: VaultClient,
    private readonly auth: VaultAuth,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  async mintIntermediate(request: MintRequest, signal?: AbortSignal): Promise<MintResult> {
    const path = this.config.paths.sign;
    const token = await this.auth.token(signal);
    const { ttlSeconds, clampWarning } = await this.ttlWithinIssuer(request.ttlSeconds, signal);
    const res = await this.client.write(
      path,
      {
        csr: request.csrPem,
        common_name: this.config.commonName ?? commonNameOf(request.csrPem) ?? DEFAULT_CN,
        uri_sans: `spiffe://${request.trustDomain}`,
        ttl: `${ttlSeconds}s`,
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
    const ours = parseCertificates(certificatePem, `vault: ${path} certificate`, 'ERR_UPSTREAM_BAD_RESPONSE')[0];
    if (!ours) throw vaultBadResponse(path, 'data.certificate holds no certificate');
    // ca_chain is [ours, issuer, …, root] on Vault ≥ 1.11 and OpenBao; issuing_ca alone on older versions.
    const issuerChain = issuerChainOf(ours, stringList(res.data?.ca_chain ?? res.data?.issuing_ca), `vault: ${path} ca_chain`);
    if (issuerChain.length === 0) throw vaultBadResponse(path, 'answer has neither data.ca_chain nor data.issuing_ca beyond our certificate');
    this.refuseOutlivingIssuer(path, ours, issuerChain);
    const { chainPem, rootsPem } = splitChain(pemOf(issuerChain), `vault: ${path} ca_chain`);
    const roots = rootsPem.length > 0 ? rootsPem : await this.fetchRoots(signal);

    const { expected, unexpected } = classifyWarnings(res.warnings);
    // The core logs returned warnings once at warn; the ones every mint gets are not news.
    if (expected.length > 0) this.logger.debug({ path, warnings: expected }, 'expected warnings');
    const warnings = clampWarning ? [clampWarning, ...unexpected] : unexpected;
    return { certificatePem, upstreamChainPem: chainPem, rootsPem: roots, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  /**
   * The TTL to ask for: the request, cut to what the issuer's chain has left.
   * Vault would truncate with a warning; OpenBao 2.7 signs past the issuer's end,
   * giving a certificate no validator accepts once the issuer expired.
   */
  private async ttlWithinIssuer(requested: number, signal?: AbortSignal): Promise<{ ttlSeconds: number; clampWarning?: string }> {
    const endMs = chainEndMs(await this.issuerChain(signal));
    const leftSeconds = Math.floor((endMs - this.now()) / 1000) - issuerEndMarginSeconds;
    const wanted = Math.floor(requested);
    if (leftSeconds <= 0) {
      throw new WcaError('ERR_UPSTREAM_CHAIN', `vault: the issuer of ${this.config.paths.sign} expires at ${iso(endMs)}; it can sign nothing more`, {
        details: { issuerNotAfter: iso(endMs) },
      });
    }
    if (wanted <= leftSeconds) return { ttlSeconds: wanted };
    return {
      ttlSeconds: leftSeconds,
      clampWarning: `requested TTL ${wanted}s cut to ${leftSeconds}s: the issuer's chain ends at ${iso(endMs)}`,
    };
  }

  private refuseOutlivingIssuer(path: string, ours: X509Certificate, issuerChain: X509Certificate[]): void {
    const oursEnd = Date.parse(ours.validTo);
    const issuerEnd = chainEndMs(issuerChain);
    if (oursEnd <= issuerEnd) return;
    throw new WcaError(
      'ERR_UPSTREAM_CHAIN',
      `vault: ${path} returned an intermediate valid until ${iso(oursEnd)}, after its issuer's chain ends (${iso(issuerEnd)}); ` +
        'refusing a certificate that would outlive its issuer',
      { details: { path, notAfter: iso(oursEnd), issuerNotAfter: iso(issuerEnd) } },
    );
  }

  /** The signing issuer's chain, issuer first (unauthenticated read). */
  private async issuerChain(signal?: AbortSignal): Promise<X509Certificate[]> {
    const path = this.config.paths.bundle;
    const res = await this.client.read(path, { operation: 'pki', signal });
    const chain = parseCertificates(stringList(res.data?.ca_chain ?? res.data?.certificate), `vault: ${path}`, 'ERR_UPSTREAM_BAD_RESPONSE');
    if (chain.length === 0) throw vaultBadResponse(path, 'answer has no data.ca_chain');
    return chain;
  }

  async fetchRoots(signal?: AbortSignal): Promise<string[]> {
    const path = this.config.paths.bundle;
    // Both bundle endpoints are unauthenticated: roots stay readable even when our token is not.
    const { rootsPem } = splitChain(pemOf(await this.issuerChain(signal)), `vault: ${path}`);
    if (rootsPem.length === 0) {
      throw new WcaError(
        'ERR_UPSTREAM_CHAIN',
        `vault: the chain of ${path} does not reach a self-signed root; import the root into the mount so Vault knows the full chain`,
        { details: { path } },
      );
    }
    return rootsPem;
  }

  async checkCredentials(signal?: AbortSignal): Promise<string> {
    return this.auth.verify(signal);
  }

  /** `<mount>/revoke`: Vault adds the serial to the mount's CRL (and OCSP answers). */
  async revoke(serialHex: string, signal?: AbortSignal): Promise<void> {
    const serial = colonHexSerial(serialHex, 'vault');
    const path = this.config.paths.revoke;
    const token = await this.auth.token(signal);
    const res = await this.client.write(path, { serial_number: serial }, { operation: 'pki', token, signal });
    if (typeof res.data?.revocation_time !== 'number') throw vaultBadResponse(path, 'answer has no data.revocation_time');
    this.logger.info({ path, serial }, 'certificate revoked');
  }

  async close(): Promise<void> {
    this.auth.close();
  }
}

import type { Secret } from '../generated/proto/envoy/extensions/transport_sockets/tls/v3/Secret.js';
import type { SPIFFECertValidatorConfig } from '../generated/proto/envoy/extensions/transport_sockets/tls/v3/SPIFFECertValidatorConfig.js';
import { packResource } from './encode.js';
import { sdsProtos, secretTypeUrl, spiffeValidatorTypeUrl } from './protos.js';
import type { EnvoyVersion, Resource } from './types.js';

/** Envoy added envoy.tls.cert_validator.spiffe in 1.18. */
export function supportsSpiffeValidator(version: EnvoyVersion | undefined): boolean {
  if (!version) return false;
  return version.major > 1 || (version.major === 1 && version.minor >= 18);
}

/** Typed by the protos' generated shapes, so a misspelt field fails the build instead of vanishing from the wire. */
function secretResource(name: string, version: string, secret: Omit<Secret, 'name'>): Resource {
  const message: Secret = { name, ...secret };
  return packResource(name, version, secretTypeUrl, sdsProtos().Secret.encode(message).finish());
}

/** `default` or the caller's SPIFFE ID: chain leaf first, PKCS#8 key, both inline. */
export function tlsCertificateResource(
  name: string,
  svid: { serial: string; chainPem: string; privateKeyPem: string },
): Resource {
  return secretResource(name, svid.serial, {
    tls_certificate: {
      certificate_chain: { inline_bytes: Buffer.from(svid.chainPem) },
      private_key: { inline_bytes: Buffer.from(svid.privateKeyPem) },
    },
  });
}

/**
 * `ROOTCA` or a trust domain ID. With the SPIFFE validator the bundle is keyed by
 * trust domain, so federated domains can be added as more entries later.
 */
export function validationContextResource(
  name: string,
  bundle: { trustDomain: string; pem: string; version: string },
  spiffeValidator: boolean,
): Resource {
  const bundleBytes = Buffer.from(bundle.pem);
  if (!spiffeValidator) {
    return secretResource(name, bundle.version, { validation_context: { trusted_ca: { inline_bytes: bundleBytes } } });
  }
  const validator: SPIFFECertValidatorConfig = {
    trust_domains: [{ name: bundle.trustDomain, trust_bundle: { inline_bytes: bundleBytes } }],
  };
  const config = sdsProtos().SPIFFECertValidatorConfig.encode(validator).finish();
  return secretResource(name, `${bundle.version}/spiffe`, {
    validation_context: {
      custom_validator_config: {
        name: 'envoy.tls.cert_validator.spiffe',
        typed_config: { type_url: spiffeValidatorTypeUrl, value: config },
      },
    },
  });
}

import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { sdsProtos, secretTypeUrl, sdsServiceName } from '../../src/sds/protos.js';

export interface ClientIdentity {
  chainPem: string;
  privateKeyPem: string;
}

export interface RawSecret {
  name: string;
  tls_certificate?: { certificate_chain: { inline_bytes: Uint8Array }; private_key: { inline_bytes: Uint8Array } };
  validation_context?: unknown;
}

export interface FetchedSvid {
  spiffeIds: string[];
  dnsNames: string[];
  serial: string;
  chainPem: string;
  privateKeyPem: string;
}

/**
 * An Envoy-like SDS client over real TLS: trusts the bundle, checks the server's
 * SPIFFE ID (its SVID has no DNS name), optionally presents its own SVID, and
 * calls FetchSecrets with the official protos.
 */
export class SdsTestClient {
  private readonly client: grpc.Client;

  constructor(address: string, bundlePem: string, expectedServerId: string, identity?: ClientIdentity) {
    const credentials = grpc.credentials.createSsl(
      Buffer.from(bundlePem),
      identity ? Buffer.from(identity.privateKeyPem) : null,
      identity ? Buffer.from(identity.chainPem) : null,
      {
        checkServerIdentity: (_host, cert) =>
          cert.subjectaltname === `URI:${expectedServerId}` ? undefined : new Error(`server is ${cert.subjectaltname}, expected ${expectedServerId}`),
      },
    );
    this.client = new grpc.Client(address, credentials);
  }

  /** FetchSecrets for one name; resolves with the decoded Secret (official proto field names). */
  fetchSecret(resourceName: string, authorization?: string, nodeId = 'sidecar~10.0.0.7~vm~default'): Promise<RawSecret> {
    const metadata = new grpc.Metadata();
    if (authorization) metadata.set('authorization', authorization);
    return fetchSecretOn(this.client, resourceName, metadata, nodeId);
  }

  /** FetchSecrets for the caller's own certificate, with its SANs read from the leaf. */
  async fetch(resourceName: string, authorization?: string, nodeId?: string): Promise<FetchedSvid> {
    const secret = await this.fetchSecret(resourceName, authorization, nodeId);
    if (!secret.tls_certificate) throw new Error(`secret ${secret.name} carries no certificate`);
    const chainPem = Buffer.from(secret.tls_certificate.certificate_chain.inline_bytes).toString('utf8');
    const leaf = new X509Certificate(chainPem.slice(0, chainPem.indexOf('-----END CERTIFICATE-----') + 25));
    const sans = (leaf.subjectAltName ?? '').split(', ');
    return {
      spiffeIds: sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
      dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
      serial: leaf.serialNumber,
      chainPem,
      privateKeyPem: Buffer.from(secret.tls_certificate.private_key.inline_bytes).toString('utf8'),
    };
  }

  close(): void {
    this.client.close();
  }
}

/** One FetchSecrets call for `resourceName` on `client`; also used by bench/renewal.ts. */
export function fetchSecretOn(client: grpc.Client, resourceName: string, metadata: grpc.Metadata, nodeId: string): Promise<RawSecret> {
  const { DiscoveryRequest, DiscoveryResponse, Secret } = sdsProtos();
  const request = { node: { id: nodeId, cluster: 'shop' }, resource_names: [resourceName], type_url: secretTypeUrl };
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/${sdsServiceName}/FetchSecrets`,
      (r: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(r)).finish()),
      (bytes: Buffer) => DiscoveryResponse.decode(bytes) as unknown as { resources: { value: Uint8Array }[] },
      request,
      metadata,
      { deadline: Date.now() + 20_000 },
      (err, response) => (err || !response ? reject(err) : resolve(Secret.decode(response.resources[0]!.value) as unknown as RawSecret)),
    );
  });
}

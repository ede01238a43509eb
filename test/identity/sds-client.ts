import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { sdsProtos, secretTypeUrl, sdsServiceName } from '../../src/sds/protos.js';

export interface ClientIdentity {
  chainPem: string;
  privateKeyPem: string;
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

  fetch(resourceName: string, authorization?: string): Promise<FetchedSvid> {
    const { DiscoveryRequest, DiscoveryResponse, Secret } = sdsProtos();
    const metadata = new grpc.Metadata();
    if (authorization) metadata.set('authorization', authorization);
    const request = { node: { id: 'sidecar~10.0.0.7~vm~default', cluster: 'shop' }, resource_names: [resourceName], type_url: secretTypeUrl };
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/${sdsServiceName}/FetchSecrets`,
        (r: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(r)).finish()),
        (bytes: Buffer) => DiscoveryResponse.decode(bytes) as unknown as { resources: { value: Uint8Array }[] },
        request,
        metadata,
        { deadline: Date.now() + 20_000 },
        (err, response) => {
          if (err || !response) return reject(err);
          const secret = Secret.decode(response.resources[0]!.value) as unknown as {
            tls_certificate: { certificate_chain: { inline_bytes: Uint8Array }; private_key: { inline_bytes: Uint8Array } };
          };
          const chainPem = Buffer.from(secret.tls_certificate.certificate_chain.inline_bytes).toString('utf8');
          const leaf = new X509Certificate(chainPem.slice(0, chainPem.indexOf('-----END CERTIFICATE-----') + 25));
          const sans = (leaf.subjectAltName ?? '').split(', ');
          resolve({
            spiffeIds: sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
            dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
            serial: leaf.serialNumber,
            chainPem,
            privateKeyPem: Buffer.from(secret.tls_certificate.private_key.inline_bytes).toString('utf8'),
          });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

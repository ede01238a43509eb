import { describe, expect, it } from 'vitest';
import { encodeDeltaResponse, encodeSotwResponse, packResource } from '../../src/sds/encode.js';
import { loadEnvoyProtos, secretTypeUrl } from '../../src/sds/protos.js';
import type { Resource } from '../../src/sds/types.js';

/** Decoded with a root of its own, not the one the encoder reads its field numbers from. */
const root = loadEnvoyProtos(['envoy/service/discovery/v3/discovery.proto']);
const DiscoveryResponse = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const DeltaDiscoveryResponse = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');

const resource = (name: string, version: string): Resource => packResource(name, version, secretTypeUrl, Buffer.from(`secret ${name}@${version}`));
const plain = (message: object) => JSON.parse(JSON.stringify(message, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString() : v)));

describe('response encoding', () => {
  it('writes a DiscoveryResponse byte for byte as protobufjs does, also when a packed resource is reused', () => {
    const rootca = resource('ROOTCA', 'b1');
    const cert = resource('default', 'v1');
    for (const response of [
      { versionInfo: 'abc', resources: [rootca, cert], nonce: '7' },
      { versionInfo: 'def', resources: [rootca], nonce: '8' },
      { versionInfo: '', resources: [], nonce: '' },
    ]) {
      const official = DiscoveryResponse.encode({
        version_info: response.versionInfo,
        resources: response.resources.map((r) => ({ type_url: r.typeUrl, value: r.value })),
        type_url: secretTypeUrl,
        nonce: response.nonce,
      }).finish();
      expect(Buffer.compare(encodeSotwResponse(response), Buffer.from(official))).toBe(0);
    }
  });

  it('writes a DeltaDiscoveryResponse the official type decodes field for field', () => {
    const bytes = encodeDeltaResponse({
      systemVersionInfo: '',
      resources: [resource('default', 'v2'), resource('ROOTCA', 'b1')],
      removed: ['defualt', 'other'],
      nonce: '3',
    });
    expect(plain(DeltaDiscoveryResponse.toObject(DeltaDiscoveryResponse.decode(bytes)))).toEqual({
      resources: [
        { name: 'default', version: 'v2', resource: { type_url: secretTypeUrl, value: 'secret default@v2' } },
        { name: 'ROOTCA', version: 'b1', resource: { type_url: secretTypeUrl, value: 'secret ROOTCA@b1' } },
      ],
      type_url: secretTypeUrl,
      removed_resources: ['defualt', 'other'],
      nonce: '3',
    });
  });
});

import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { peerHost, StreamAdmission } from '../../src/sds/admission.js';

function refusal(fn: () => void) {
  try {
    fn();
  } catch (err) {
    if (isWcaError(err, 'ERR_SDS_LIMIT')) return err.details;
    throw err;
  }
  throw new Error('expected ERR_SDS_LIMIT');
}

describe('StreamAdmission', () => {
  it('caps streams per address, each address on its own, and frees a slot when a stream closes', () => {
    const admission = new StreamAdmission({ streamsMax: 10, streamsPerAddress: 2 });
    admission.open('10.0.0.1');
    admission.open('10.0.0.1');
    expect(refusal(() => admission.open('10.0.0.1'))).toEqual({ reason: 'streams-per-address', limit: 2 });
    admission.open('10.0.0.2');
    admission.close('10.0.0.1', false);
    admission.open('10.0.0.1');
  });

  it('counts toward the server-wide limit only streams that authenticated', () => {
    const admission = new StreamAdmission({ streamsMax: 1, streamsPerAddress: 100 });
    for (let i = 0; i < 50; i++) admission.open('10.0.0.9');
    admission.authenticate();
    expect(admission.authenticated).toBe(1);
    expect(refusal(() => admission.authenticate())).toEqual({ reason: 'streams', limit: 1 });
    admission.close('10.0.0.9', true);
    expect(admission.authenticated).toBe(0);
    admission.authenticate();
  });
});

describe('peerHost', () => {
  it.each([
    ['10.0.0.7:51234', '10.0.0.7'],
    ['[::1]:51234', '[::1]'],
    ['/run/workload-ca/sds.sock', '/run/workload-ca/sds.sock'],
    ['unknown', 'unknown'],
  ])('%s → %s', (peer, host) => expect(peerHost(peer)).toBe(host));
});

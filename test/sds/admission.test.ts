import { describe, expect, it } from 'vitest';
import { isWcaError } from '../../src/errors.js';
import { addressGroup, peerHost } from '../../src/net/address-group.js';
import { StreamAdmission } from '../../src/sds/admission.js';

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
    const admission = new StreamAdmission({ streamsMax: 10, streamsPerAddress: 2, pendingMax: 100 });
    admission.open('10.0.0.1');
    admission.open('10.0.0.1');
    expect(refusal(() => admission.open('10.0.0.1'))).toEqual({ reason: 'streams-per-address', limit: 2 });
    admission.open('10.0.0.2');
    admission.close('10.0.0.1', false);
    admission.open('10.0.0.1');
  });

  it('counts toward the server-wide limit only streams that authenticated', () => {
    const admission = new StreamAdmission({ streamsMax: 1, streamsPerAddress: 100, pendingMax: 100 });
    for (let i = 0; i < 50; i++) admission.open('10.0.0.9');
    admission.authenticate();
    expect(admission.authenticated).toBe(1);
    expect(refusal(() => admission.authenticate())).toEqual({ reason: 'streams', limit: 1 });
    admission.close('10.0.0.9', true);
    expect(admission.authenticated).toBe(0);
    admission.authenticate();
  });

  it('caps streams not yet authenticated server-wide; authenticating or closing one frees its pending slot', () => {
    const admission = new StreamAdmission({ streamsMax: 10, streamsPerAddress: 100, pendingMax: 3 });
    ['10.0.0.1', '10.0.0.2', '10.0.0.3'].forEach((a) => admission.open(a));
    expect(refusal(() => admission.open('10.0.0.4'))).toEqual({ reason: 'pending-streams', limit: 3 });
    admission.authenticate();
    expect(admission.pending).toBe(2);
    admission.open('10.0.0.4');
    admission.close('10.0.0.2', false);
    admission.open('10.0.0.5');
    expect(refusal(() => admission.open('10.0.0.6'))).toEqual({ reason: 'pending-streams', limit: 3 });
    // A refused open counted nothing.
    admission.close('10.0.0.1', true);
    expect(admission.pending).toBe(3);
    expect(admission.authenticated).toBe(0);
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

describe('addressGroup', () => {
  it.each([
    ['10.0.0.7:51234', '10.0.0.7'],
    ['2001:db8:1:2:3:4:5:6:51234', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:ffff::9:443', '2001:db8:1:2::/64'],
    ['[2001:db8:0:0::1]:51234', '2001:db8:0:0::/64'],
    ['2001:db8::7:51234', '2001:db8:0:0::/64'],
    ['::1:51234', '0:0:0:0::/64'],
    ['::ffff:10.0.0.7:51234', '::ffff:10.0.0.7'],
    ['/run/workload-ca/sds.sock', '/run/workload-ca/sds.sock'],
  ])('%s → %s', (peer, group) => expect(addressGroup(peer)).toBe(group));
});

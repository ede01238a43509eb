import { WcaError } from './errors.js';

/**
 * A certificate serial as Vault's pki/revoke and AWS Private CA's RevokeCertificate
 * document it (the form `openssl x509 -text` prints): lower-case hex octets joined
 * by colons, without the leading zero octet DER adds to keep the number positive.
 * Accepts hex with or without colons (Node's X509Certificate#serialNumber has none).
 */
export function colonHexSerial(serial: string, plugin: string): string {
  const hex = serial.replace(/[:\s-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(hex)) {
    throw new WcaError('ERR_USAGE', 'a serial number is 1 to 20 octets of hex (colons allowed)', { details: { plugin } });
  }
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return even.replace(/^(00)+(?=..)/, '').match(/../g)!.join(':');
}

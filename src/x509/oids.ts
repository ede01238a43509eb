export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  rsaSha256: '1.2.840.113549.1.1.11',
  rsaSha384: '1.2.840.113549.1.1.12',
  rsaSha512: '1.2.840.113549.1.1.13',
  extensionRequest: '1.2.840.113549.1.9.14',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  /**
   * workload-ca renewal lineage (non-critical leaf extension): the chain of mTLS
   * renewals this SVID belongs to, as SEQUENCE { start GeneralizedTime, id OCTET
   * STRING (16 random bytes) }: when it began and which one it is (leaves from
   * before the id carry the bare GeneralizedTime). A UUID OID (X.667,
   * 2.25.<UUID 4b1043a6-a5e9-40f2-8e0a-90dbeeb94f7e>), which needs no registration.
   */
  wcaLineageStart: '2.25.99776548558270682781934729266156097406',
} as const;

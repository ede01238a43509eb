/** The key types a CA or leaf key can have: below the CA core, which signs with them, and x509, which encodes them. */
export const keyTypes = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const;
export type KeyType = (typeof keyTypes)[number];

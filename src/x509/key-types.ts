/** The key types a CA or leaf key can have: below the CA core, which signs with them, and x509, which encodes them. */
export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072';
export const keyTypes: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'];

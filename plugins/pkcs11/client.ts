/**
 * The only file that touches pkcs11js: load a module, open a logged-in session
 * on one token, find objects, sign. PKCS#11 return codes become typed errors
 * naming the config field the operator has to fix.
 */
import type * as P11 from 'pkcs11js';
import { configError, WcaError } from '../../src/upstream/sdk/errors.js';
import { importOptional } from '../../src/upstream/sdk/optional.js';

const PLUGIN = 'pkcs11';
const { default: pkcs11js } = await importOptional(PLUGIN, 'pkcs11js', () => import('pkcs11js'));

export type Handle = Buffer;

export const Mechanism = { ECDSA: pkcs11js.CKM_ECDSA, SHA256_RSA_PKCS: pkcs11js.CKM_SHA256_RSA_PKCS } as const;

export interface OpenOptions {
  module: string;
  tokenLabel?: string;
  slot?: number;
  pin: string;
}

export interface HsmSession {
  /** Which token, slot and module this session is on: what errors and `upstream check` name. */
  readonly where: string;
  /** Asks the HSM whether this session is still logged in as the user; throws ERR_UPSTREAM_AUTH if not. */
  loginState(): string;
  findPrivateKey(query: { label?: string; id?: Buffer }): Handle | undefined;
  findCertificateDer(label: string): Buffer | undefined;
  sign(key: Handle, mechanism: number, data: Buffer): Buffer;
  close(): void;
}

/** One PKCS11 instance per module path: C_Initialize/C_Finalize are process-wide per library. */
const modules = new Map<string, { lib: P11.PKCS11; refs: number }>();

const ckr = (err: unknown): number | undefined => (err instanceof pkcs11js.Pkcs11Error ? err.code : undefined);
const ckrName = (err: unknown): string => (err instanceof Error ? err.message.split(/[:\s]/)[0]! : 'error');

function acquire(modulePath: string): P11.PKCS11 {
  const held = modules.get(modulePath);
  if (held) {
    held.refs++;
    return held.lib;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(modulePath);
  } catch (cause) {
    throw configError(PLUGIN, [{ path: 'config.module', message: `cannot load PKCS#11 module ${modulePath}` }], cause);
  }
  try {
    lib.C_Initialize();
  } catch (cause) {
    if (ckr(cause) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      lib.close();
      throw new WcaError('ERR_UPSTREAM_UNAVAILABLE', `upstream "${PLUGIN}": C_Initialize failed (${ckrName(cause)})`, { cause });
    }
  }
  modules.set(modulePath, { lib, refs: 1 });
  return lib;
}

function release(modulePath: string): void {
  const held = modules.get(modulePath);
  if (!held || --held.refs > 0) return;
  modules.delete(modulePath);
  try {
    held.lib.C_Finalize();
  } finally {
    held.lib.close();
  }
}

const slotId = (slot: Handle): number => Number(slot.length >= 8 ? slot.readBigUInt64LE(0) : slot.readUInt32LE(0));

function findSlot(lib: P11.PKCS11, o: OpenOptions): Handle {
  const slots = lib.C_GetSlotList(true);
  const found =
    o.tokenLabel !== undefined
      ? slots.find((s) => lib.C_GetTokenInfo(s).label.trim() === o.tokenLabel)
      : slots.find((s) => slotId(s) === o.slot);
  if (found) return found;
  const field = o.tokenLabel !== undefined ? 'config.tokenLabel' : 'config.slot';
  const wanted = o.tokenLabel !== undefined ? `token "${o.tokenLabel}"` : `slot ${o.slot}`;
  throw configError(PLUGIN, [{ path: field, message: `${wanted} not found among ${slots.length} slot(s) with a token` }]);
}

/** PKCS#11 session states (CK_STATE) in which the user is logged in; pkcs11js has no names for them. */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/** `where` names the token and slot, as the operator knows them; never the PIN. */
function login(lib: P11.PKCS11, session: Handle, pin: string, where: string): void {
  try {
    lib.C_Login(session, pkcs11js.CKU_USER, pin);
  } catch (cause) {
    const code = ckr(cause);
    if (code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return;
    const reason =
      code === pkcs11js.CKR_PIN_INCORRECT
        ? 'PIN incorrect'
        : code === pkcs11js.CKR_PIN_LOCKED
          ? 'PIN locked'
          : `login failed (${ckrName(cause)})`;
    // The message names the failure and the token, never the PIN.
    throw new WcaError('ERR_UPSTREAM_AUTH', `upstream "${PLUGIN}": ${reason} for ${where}`, { cause, details: { plugin: PLUGIN } });
  }
}

export function openSession(o: OpenOptions): HsmSession {
  const lib = acquire(o.module);
  let session: Handle;
  let where: string;
  try {
    const slot = findSlot(lib, o);
    where = `token "${lib.C_GetTokenInfo(slot).label.trim()}" (slot ${slotId(slot)}) of ${o.module}`;
    session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    login(lib, session, o.pin, where);
  } catch (err) {
    release(o.module);
    throw err;
  }

  let closed = false;
  const findOne = (template: P11.Template): Handle | undefined => {
    lib.C_FindObjectsInit(session, template);
    try {
      return lib.C_FindObjects(session) ?? undefined;
    } finally {
      lib.C_FindObjectsFinal(session);
    }
  };

  return {
    where,
    loginState() {
      const { state } = lib.C_GetSessionInfo(session);
      if (state !== CKS_RO_USER_FUNCTIONS && state !== CKS_RW_USER_FUNCTIONS) {
        throw new WcaError('ERR_UPSTREAM_AUTH', `upstream "${PLUGIN}": the session on ${where} is no longer logged in (state ${state})`, { details: { plugin: PLUGIN } });
      }
      return `logged in as user to ${where}`;
    },
    findPrivateKey({ label, id }) {
      const template: P11.Template = [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }];
      if (label !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: label });
      if (id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: id });
      return findOne(template);
    },
    findCertificateDer(label) {
      const cert = findOne([
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
        { type: pkcs11js.CKA_LABEL, value: label },
      ]);
      if (!cert) return undefined;
      return lib.C_GetAttributeValue(session, cert, [{ type: pkcs11js.CKA_VALUE }])[0]?.value as Buffer | undefined;
    },
    sign(key, mechanism, data) {
      try {
        lib.C_SignInit(session, { mechanism }, key);
        return lib.C_Sign(session, data, Buffer.alloc(1024));
      } catch (cause) {
        throw new WcaError('ERR_SIGNER_FAILED', `upstream "${PLUGIN}": HSM signing failed (${ckrName(cause)})`, { cause });
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        lib.C_CloseSession(session);
      } finally {
        release(o.module);
      }
    },
  };
}

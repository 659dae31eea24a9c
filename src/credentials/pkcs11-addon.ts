// pkcs11js, the PKCS#11 binding, is an optional dependency: a Node-API addon compiled at install,
// which npm leaves out where there is no toolchain. It is loaded only when a PKCS#11 flag is given,
// and the part used here is declared here, so that building and type-checking need it neither.
import { createRequire } from 'node:module';
import { CredentialError } from './credential-file.ts';

/** A slot, session or object handle. */
export type Handle = Buffer;

interface Attribute {
  readonly type: number;
  readonly value?: number | boolean | string | Buffer;
}

export interface Pkcs11Module {
  load(path: string): void;
  close(): void;
  C_Initialize(): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): { readonly label: string; readonly flags: number };
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_Logout(session: Handle): void;
  C_FindObjectsInit(session: Handle, template: readonly Attribute[]): void;
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: readonly Attribute[]): Array<{ readonly type: number; readonly value: Buffer }>;
}

type Constant =
  | 'CKA_CLASS' | 'CKA_ID' | 'CKA_LABEL' | 'CKA_VALUE' | 'CKA_KEY_TYPE' | 'CKA_MODULUS' | 'CKA_PUBLIC_EXPONENT' | 'CKA_EC_PARAMS' | 'CKA_EC_POINT'
  | 'CKO_CERTIFICATE' | 'CKO_PUBLIC_KEY' | 'CKO_PRIVATE_KEY' | 'CKK_RSA' | 'CKK_EC'
  | 'CKF_SERIAL_SESSION' | 'CKF_TOKEN_INITIALIZED' | 'CKU_USER';

export type Pkcs11Addon = { readonly PKCS11: new () => Pkcs11Module } & { readonly [name in Constant]: number };

const PACKAGE = 'pkcs11js';
const require = createRequire(import.meta.url);

/** Whether the package is installed (without loading it): ghostunnel --version's "pkcs11:". */
export function pkcs11Installed(): boolean {
  try {
    require.resolve(PACKAGE);
    return true;
  } catch {
    return false;
  }
}

export function loadPkcs11(): Pkcs11Addon {
  try {
    return require(PACKAGE) as Pkcs11Addon;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && !pkcs11Installed();
    if (missing) {
      throw new CredentialError(`PKCS#11 needs the optional package ${PACKAGE}, which is not installed: npm leaves it out where it cannot compile it; install python3, make and a C++ compiler, then install ghostunnel-ts again (\`npm ci\` in a checkout)`);
    }
    throw new CredentialError(`PKCS#11 needs the ${PACKAGE} native addon, which did not load (${(err as Error).message.split('\n')[0]}); rebuild it with \`npm rebuild ${PACKAGE}\``);
  }
}

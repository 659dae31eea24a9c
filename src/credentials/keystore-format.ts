import { extname } from 'node:path';

export type KeystoreFormat = 'pem' | 'pkcs12' | 'jceks' | 'der';

const BY_EXTENSION: Record<string, KeystoreFormat> = {
  '.pem': 'pem',
  '.crt': 'pem',
  '.p7b': 'pem',
  '.p7c': 'pem',
  '.p12': 'pkcs12',
  '.pfx': 'pkcs12',
  '.jceks': 'jceks',
  '.jks': 'jceks',
  '.der': 'der',
};

/** Ghostunnel's keystore format guess (spec §2.3): by extension, then by the first bytes. */
export function detectKeystoreFormat(path: string, data: Buffer): KeystoreFormat {
  const byExt = BY_EXTENSION[extname(path).toLowerCase()];
  if (byExt) return byExt;
  if (data.length >= 4) {
    const magic = data.readUInt32BE(0);
    if (magic === 0xcececece || magic === 0xfeedfeed) return 'jceks';
  }
  const head = data.subarray(0, 5).toString('latin1');
  if (head === '-----' || head.startsWith('CONN')) return 'pem';
  if (data.length >= 4 && data[0] === 0x30 && data[1] === 0x82) return data[3] === 0x03 ? 'der' : 'pkcs12';
  throw new Error('unable to guess file format');
}

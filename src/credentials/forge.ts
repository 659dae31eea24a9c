import { createRequire } from 'node:module';
import type Forge from 'node-forge';

const require = createRequire(import.meta.url);

/**
 * node-forge, loaded the first time a PKCS#12, JCEKS or PKCS#7 file is read. It is large, and a
 * daemon on PEM files never needs it: loading it at start cost memory and GC time on the data path.
 */
export function loadForge(): typeof Forge {
  return require('node-forge') as typeof Forge;
}

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the ACME account key and certificates live: $XDG_DATA_HOME/ghostunnel-acme, or
 * ~/.local/share/ghostunnel-acme, one folder per ACME directory (so a staging CA's account and
 * certificates never mix with production's), then one per certificate name:
 *
 *   ghostunnel-acme/<ca host and path>/account.key
 *   ghostunnel-acme/<ca host and path>/certificates/<fqdn>/certificate.pem   (chain, leaf first)
 *   ghostunnel-acme/<ca host and path>/certificates/<fqdn>/private-key.pem
 */
export class AcmeStorage {
  readonly root: string;
  readonly #caDir: string;

  constructor(directoryUrl: string, env: NodeJS.ProcessEnv = process.env) {
    const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
    this.root = join(base, 'ghostunnel-acme');
    const url = new URL(directoryUrl);
    const slug = `${url.host}${url.pathname}`.replace(/[^A-Za-z0-9.-]+/g, '_').replace(/_+$/, '');
    this.#caDir = join(this.root, slug);
  }

  get accountKeyPath(): string {
    return join(this.#caDir, 'account.key');
  }

  certificatePaths(fqdn: string): { cert: string; key: string } {
    const dir = join(this.#caDir, 'certificates', fqdn.toLowerCase());
    return { cert: join(dir, 'certificate.pem'), key: join(dir, 'private-key.pem') };
  }

  /** The file's content, or undefined when it does not exist. */
  read(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Writes through a temporary file and a rename, so a crash never leaves half a key; owner-only. */
  write(path: string, content: string): void {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, path);
  }
}

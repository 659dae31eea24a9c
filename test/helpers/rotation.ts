// Credential files laid out the way real rotators write them, each with a rotate() that replaces
// the pair the way that rotator does. The daemon gets `cert` and `key` as --cert and --key.
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Issued } from './pki.ts';

export interface CredentialLayout {
  readonly cert: string;
  readonly key: string;
  rotate(to: Issued): Promise<void>;
}

/** The rotator rewrites both files in place (truncate and write), certificate first. */
export function inPlaceLayout(dir: string, initial: Issued): CredentialLayout {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  copyFileSync(initial.cert, cert);
  copyFileSync(initial.key, key);
  return {
    cert,
    key,
    async rotate(to) {
      writeFileSync(cert, readFileSync(to.cert));
      writeFileSync(key, readFileSync(to.key));
    },
  };
}

/** Write a temporary file next to each, then rename it over (most tools' "atomic" write). */
export function renameLayout(dir: string, initial: Issued): CredentialLayout {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  copyFileSync(initial.cert, cert);
  copyFileSync(initial.key, key);
  const replace = (path: string, from: string): void => {
    writeFileSync(`${path}.tmp`, readFileSync(from));
    renameSync(`${path}.tmp`, path);
  };
  return {
    cert,
    key,
    async rotate(to) {
      replace(cert, to.cert);
      replace(key, to.key);
    },
  };
}

/**
 * A Kubernetes Secret volume (kubelet's AtomicWriter): the files are symlinks through `..data`,
 * itself a symlink to a timestamped directory; an update writes a new directory, points
 * `..data_tmp` at it, renames that over `..data`, and removes the old directory.
 */
export function kubernetesLayout(dir: string, initial: Issued): CredentialLayout {
  let generation = 0;
  let current = '';
  const publish = (pair: Issued): void => {
    const next = `..2026_11_23_00_00_00.${++generation}`;
    mkdirSync(join(dir, next));
    copyFileSync(pair.cert, join(dir, next, 'tls.crt'));
    copyFileSync(pair.key, join(dir, next, 'tls.key'));
    symlinkSync(next, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    if (current) rmSync(join(dir, current), { recursive: true });
    current = next;
  };
  publish(initial);
  symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
  symlinkSync('..data/tls.key', join(dir, 'tls.key'));
  return { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), rotate: async (to) => publish(to) };
}

/**
 * certbot: live/NAME/{cert,privkey}.pem are relative symlinks into archive/NAME/, where each
 * renewal adds numbered files; the live links are then removed and re-created one by one.
 */
export function certbotLayout(dir: string, initial: Issued): CredentialLayout {
  const live = join(dir, 'live', 'example');
  const archive = join(dir, 'archive', 'example');
  mkdirSync(live, { recursive: true });
  mkdirSync(archive, { recursive: true });
  let n = 0;
  const link = (name: string, target: string): void => {
    rmSync(join(live, name), { force: true });
    symlinkSync(`../../archive/example/${target}`, join(live, name));
  };
  const renew = (pair: Issued): void => {
    n++;
    copyFileSync(pair.cert, join(archive, `cert${n}.pem`));
    copyFileSync(pair.key, join(archive, `privkey${n}.pem`));
    link('cert.pem', `cert${n}.pem`);
    link('privkey.pem', `privkey${n}.pem`);
  };
  renew(initial);
  return { cert: join(live, 'cert.pem'), key: join(live, 'privkey.pem'), rotate: async (to) => renew(to) };
}

/** The rotator deletes the old files, and creates the new ones a moment later (after the watcher saw them gone). */
export function recreateLayout(dir: string, initial: Issued): CredentialLayout {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  copyFileSync(initial.cert, cert);
  copyFileSync(initial.key, key);
  return {
    cert,
    key,
    async rotate(to) {
      unlinkSync(cert);
      unlinkSync(key);
      await sleep(300);
      writeFileSync(cert, readFileSync(to.cert));
      writeFileSync(key, readFileSync(to.key));
    },
  };
}

/**
 * The whole directory is replaced: a new one is filled, the old one renamed away and the new one
 * renamed into its place. `rewrite` then changes the files in place inside the new directory.
 */
export function directorySwapLayout(dir: string, initial: Issued): CredentialLayout & { rewrite(to: Issued): void } {
  const live = join(dir, 'certs');
  let generation = 0;
  const fill = (target: string, pair: Issued): void => {
    mkdirSync(target);
    copyFileSync(pair.cert, join(target, 'server.crt'));
    copyFileSync(pair.key, join(target, 'server.key'));
  };
  fill(live, initial);
  return {
    cert: join(live, 'server.crt'),
    key: join(live, 'server.key'),
    async rotate(to) {
      const next = join(dir, `certs.new${++generation}`);
      fill(next, to);
      renameSync(live, join(dir, `certs.old${generation}`));
      renameSync(next, live);
    },
    rewrite(to) {
      writeFileSync(join(live, 'server.crt'), readFileSync(to.cert));
      writeFileSync(join(live, 'server.key'), readFileSync(to.key));
    },
  };
}

export const LAYOUTS: ReadonlyArray<{ readonly name: string; readonly make: (dir: string, initial: Issued) => CredentialLayout }> = [
  { name: 'in-place rewrite', make: inPlaceLayout },
  { name: 'write temp then rename', make: renameLayout },
  { name: 'Kubernetes Secret ..data symlink swap', make: kubernetesLayout },
  { name: 'certbot live/ symlinks into archive/', make: certbotLayout },
  { name: 'delete then re-create', make: recreateLayout },
  { name: 'directory renamed over', make: directorySwapLayout },
];

// The npm package as users get it: packed from a copy of the working tree (so the real dist/ is
// never touched), then installed from the tarball into an empty directory with production
// dependencies only.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './pki.ts';
import { requireProgram } from './programs.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** PATH with the project's Node.js (the one running the tests) first, then the system's. */
export const NODE24_PATH = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;

export interface InstalledPackage {
  readonly tarball: string;
  /** Paths inside the tarball, relative to its package/ folder. */
  readonly files: readonly string[];
  /** The directory it was installed into (with node_modules/.bin/ghostunnel). */
  readonly app: string;
  /** node_modules/ghostunnel-ts inside it. */
  readonly packageDir: string;
  /** Deletes the copy, the tarball and the installation (a few hundred MB). */
  remove(): void;
}

/** The tracked and not-ignored files of the working tree, copied into `copy`, with what `npm ci` built linked in. */
export function copyOfWorkingTree(copy: string): string {
  requireProgram('git');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (file.startsWith('node_modules/')) continue;
    mkdirSync(join(copy, dirname(file)), { recursive: true });
    try {
      copyFileSync(join(REPO, file), join(copy, file));
    } catch (err) {
      // Deleted in the working tree but still in the index.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  // What `npm ci` made: the dependencies and the data plane's build.
  symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
  symlinkSync(join(REPO, 'build'), join(copy, 'build'));
  return copy;
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, PATH: NODE24_PATH, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** `npm pack` (its prepack builds dist/ in the copy), then `npm install --omit=dev <tarball>`. */
export function packAndInstall(): InstalledPackage {
  const root = tempDir('gt-package-');
  const tree = copyOfWorkingTree(join(root, 'tree'));
  const out = join(root, 'pack');
  mkdirSync(out);
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', out], tree)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(out, packed[0]!.filename);
  const app = join(root, 'app');
  mkdirSync(app);
  // This npm runs a dependency's install scripts only when the project approves them: the package's
  // builds its data plane.
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'app', private: true, allowScripts: { 'ghostunnel-ts': true } }, null, 2)}\n`);
  npm(['install', '--omit=dev', '--no-audit', '--no-fund', tarball], app);
  return {
    tarball,
    files: packed[0]!.files.map((f) => f.path),
    app,
    packageDir: join(app, 'node_modules', 'ghostunnel-ts'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

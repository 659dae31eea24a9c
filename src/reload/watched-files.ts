import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** What was last seen of one file: its stat (following symlinks) and a hash of its content. */
interface FileState {
  readonly stat: string;
  /** A directory (an OPA bundle as a tree): its stat says nothing about files rewritten inside. */
  readonly directory: boolean;
  readonly hash: string;
  readonly checkedAt: number;
}

/**
 * A file whose modification time is this close to the previous check may have changed again
 * within the file system's timestamp granularity (a second on some NFS mounts) without its stat
 * changing, so it is hashed again (git's "racily clean" rule).
 */
const RACY_MS = 2000;
const MAX_SYMLINK_HOPS = 40;

function statKey(path: string): { key: string; mtimeMs: number; directory: boolean } {
  try {
    const s = statSync(path);
    return { key: `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`, mtimeMs: s.mtimeMs, directory: s.isDirectory() };
  } catch (err) {
    return { key: `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`, mtimeMs: 0, directory: false };
  }
}

/** Every entry under a directory, sorted, relative to it. */
function treeEntries(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

function contentHash(path: string, directory: boolean): string {
  try {
    const hash = createHash('sha256');
    if (!directory) return hash.update(readFileSync(path)).digest('hex');
    for (const entry of treeEntries(path)) {
      const full = join(path, entry);
      hash.update(entry).update('\0');
      if (statSync(full).isFile()) hash.update(readFileSync(full));
    }
    return hash.digest('hex');
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

function subdirectories(dir: string): string[] {
  try {
    return [dir, ...treeEntries(dir).map((e) => join(dir, e)).filter((p) => lstatSync(p).isDirectory())];
  } catch {
    return [];
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * The credential files to watch (a directory counts as the tree under it) and the content last
 * seen in each. Both the event watcher and the
 * poller ask it whether anything changed, so one change is reported once, and a touch or an event
 * on a neighbouring file is not reported at all.
 */
export class WatchedFiles {
  readonly #states = new Map<string, FileState>();

  constructor(paths: Iterable<string>) {
    this.add(paths);
  }

  /** Adds files (e.g. policy bundles); their current content is the baseline. */
  add(paths: Iterable<string>): void {
    for (const p of paths) {
      const path = resolve(p);
      if (!this.#states.has(path)) this.#states.set(path, this.#look(path, undefined, true));
    }
  }

  get paths(): string[] {
    return [...this.#states.keys()];
  }

  /**
   * Looks at every file again; true when any content differs from the last look. Unless `force`,
   * a file whose stat did not change (and is not racily recent) is not read.
   */
  changed(force: boolean): boolean {
    let any = false;
    for (const [path, before] of this.#states) {
      const now = this.#look(path, before, force);
      if (now.hash !== before.hash) any = true;
      this.#states.set(path, now);
    }
    return any;
  }

  /**
   * The directories where a change to the files shows up: each file's own directory (a rename or
   * symlink swap there, e.g. Kubernetes' `..data`), the directory of every symlink on the way
   * (certbot's live/ into archive/), and the real file's directory (an in-place rewrite of the
   * target). Directories that are themselves symlinks are left out: their targets are in the set.
   */
  directories(): Set<string> {
    const dirs = new Set<string>();
    for (const path of this.#states.keys()) {
      dirs.add(dirname(path));
      let hop = path;
      for (let i = 0; i < MAX_SYMLINK_HOPS && isSymlink(hop); i++) {
        try {
          hop = resolve(dirname(hop), readlinkSync(hop));
        } catch {
          break;
        }
        dirs.add(dirname(hop));
      }
      try {
        const real = realpathSync(path);
        dirs.add(dirname(real));
        if (this.#states.get(path)?.directory) for (const d of subdirectories(real)) dirs.add(d);
      } catch {
        // Missing right now (deleted before being re-created): its own directory is watched.
      }
    }
    return new Set([...dirs].filter((d) => !isSymlink(d)));
  }

  #look(path: string, before: FileState | undefined, force: boolean): FileState {
    const { key, mtimeMs, directory } = statKey(path);
    const now = Date.now();
    const racy = before !== undefined && mtimeMs >= before.checkedAt - RACY_MS;
    if (before !== undefined && !force && !directory && key === before.stat && !racy) return { ...before, checkedAt: now };
    return { stat: key, directory, hash: contentHash(path, directory), checkedAt: now };
  }
}

import { once } from 'node:events';
import { statSync } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import type { Log } from '../log/logger.ts';
import type { WatchedFiles } from './watched-files.ts';

/** Quiet time after the last event before the files are looked at: a rotation is a burst of events. */
const DEBOUNCE_MS = 100;
/** A steady stream of events still gets looked at this often. */
const MAX_DELAY_MS = 1000;
/** After directories are watched afresh, one more look this much later. */
const RECHECK_MS = 300;

/** Which directory a path names right now: a directory renamed over it is another one. */
function identity(dir: string): string {
  try {
    const s = statSync(dir);
    return `${s.dev}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

function identities(dirs: Iterable<string>): Map<string, string> {
  return new Map([...dirs].map((d) => [d, identity(d)]));
}

/**
 * File-system events (inotify and friends, through chokidar) on the directories where the
 * credential files can change. Any event there, debounced, makes it look at the files; only a
 * change of content is reported. The directory set is worked out again after each burst, since a
 * symlink swap moves the real files elsewhere, and a directory replaced by another of the same
 * name (renamed over it) is watched afresh.
 */
export class FileWatcher {
  readonly #files: WatchedFiles;
  readonly #onChange: () => void;
  readonly #log: Log;
  #watcher: FSWatcher | undefined;
  /** Each watched directory and the identity it had when the watch started. */
  #dirs = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #recheck: NodeJS.Timeout | undefined;
  #firstEventAt = 0;
  #errorLogged = false;

  constructor(files: WatchedFiles, onChange: () => void, log: Log) {
    this.#files = files;
    this.#onChange = onChange;
    this.#log = log;
  }

  /** Resolves once the directories are being watched. */
  async start(): Promise<void> {
    this.#dirs = identities(this.#files.directories());
    const watcher = watch([...this.#dirs.keys()], { depth: 0, ignoreInitial: true, followSymlinks: false, persistent: true });
    this.#watcher = watcher;
    watcher.on('all', () => this.#event());
    watcher.on('raw', () => this.#event());
    watcher.on('error', (err) => {
      if (this.#errorLogged) return;
      this.#errorLogged = true;
      this.#log.warn(`watching credential files failed: ${(err as Error).message}; add --auto-reload-interval to poll instead`);
    });
    await once(watcher, 'ready');
  }

  /** Picks up files added since start (policy bundles). */
  refresh(): void {
    this.#resync();
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    clearTimeout(this.#recheck);
    await this.#watcher?.close();
  }

  #event(): void {
    const now = Date.now();
    if (this.#timer === undefined) this.#firstEventAt = now;
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, this.#firstEventAt + MAX_DELAY_MS - now));
    this.#timer = setTimeout(() => this.#settled(), wait);
  }

  #settled(): void {
    this.#timer = undefined;
    this.#resync();
    if (this.#files.changed(true)) this.#onChange();
  }

  #resync(): void {
    const watcher = this.#watcher;
    if (watcher === undefined) return;
    const next = identities(this.#files.directories());
    const replaced = [...next].filter(([d, id]) => this.#dirs.has(d) && this.#dirs.get(d) !== id).map(([d]) => d);
    const added = [...next.keys()].filter((d) => !this.#dirs.has(d));
    const gone = [...this.#dirs.keys()].filter((d) => !next.has(d));
    if (gone.length + replaced.length > 0) watcher.unwatch([...gone, ...replaced]);
    if (added.length + replaced.length > 0) {
      watcher.add([...added, ...replaced]);
      // A new watch starts a moment later: a change made in that moment sends no event, so look
      // once more after it (a look reports content changes only).
      clearTimeout(this.#recheck);
      this.#recheck = setTimeout(() => this.#event(), RECHECK_MS).unref();
    }
    this.#dirs = next;
  }
}

import type { WatchedFiles } from './watched-files.ts';

/**
 * The fallback for file systems that deliver no events (NFS, some container mounts): every
 * interval, a stat of each credential file, and a content hash of those whose stat moved.
 */
export class Poller {
  readonly #files: WatchedFiles;
  readonly #intervalMs: number;
  readonly #onChange: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(files: WatchedFiles, intervalMs: number, onChange: () => void) {
    this.#files = files;
    this.#intervalMs = intervalMs;
    this.#onChange = onChange;
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#files.changed(false)) this.#onChange();
    }, this.#intervalMs);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

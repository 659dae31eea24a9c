import type { AutoReloadSettings, CredentialSources } from '../config/types.ts';
import type { Log } from '../log/logger.ts';
import type { FileWatcher } from './file-watcher.ts';
import { Poller } from './poller.ts';
import type { ReloadTrigger } from './reloader.ts';
import { WatchedFiles } from './watched-files.ts';

/** Every file the credential sources read at a reload. */
export function credentialPaths(sources: CredentialSources): string[] {
  return [sources.keystore, sources.cert, sources.key, sources.cacert].filter((p): p is string => p !== undefined);
}

export interface AutoReloadDeps {
  readonly settings: AutoReloadSettings;
  readonly paths: readonly string[];
  readonly log: Log;
  /** The daemon's single reload entry point. */
  readonly reload: (trigger: ReloadTrigger) => unknown;
}

/**
 * Reload with no signal and no timer (--auto-reload, --auto-reload-interval): file events, a
 * poller, or both, report a change of content in the watched files to the reload path.
 */
export class AutoReload {
  readonly #deps: AutoReloadDeps;
  readonly #files: WatchedFiles;
  #watcher: FileWatcher | undefined;
  #poller: Poller | undefined;

  constructor(deps: AutoReloadDeps) {
    this.#deps = deps;
    this.#files = new WatchedFiles(deps.paths);
  }

  async start(): Promise<void> {
    const { settings, log, reload } = this.#deps;
    if (this.#files.paths.length === 0) {
      log.warn('--auto-reload: no credential files to watch (the identity and trust come from elsewhere)');
      return;
    }
    if (settings.watch) {
      const { FileWatcher } = await import('./file-watcher.ts');
      this.#watcher = new FileWatcher(this.#files, () => reload('file'), log);
      await this.#watcher.start();
    }
    if (settings.pollMs > 0) {
      this.#poller = new Poller(this.#files, settings.pollMs, () => reload('poll'));
      this.#poller.start();
    }
    const how = [settings.watch ? 'file events' : '', settings.pollMs > 0 ? `polling every ${settings.pollMs} ms` : ''].filter(Boolean).join(' and ');
    log.info(`watching ${this.#files.paths.length} credential files for changes (${how})`, { files: this.#files.paths });
  }

  /** Watches more files from now on (e.g. policy bundles); a change there reloads too. */
  add(paths: readonly string[]): void {
    this.#files.add(paths);
    this.#watcher?.refresh();
  }

  async close(): Promise<void> {
    this.#poller?.close();
    await this.#watcher?.close();
  }
}

import { FLAGS } from '../cli/flags.ts';
import type { ParsedArgs } from '../cli/parse.ts';
import { buildConfig, checkParseRules } from '../config/build.ts';
import type { ConfigFollower } from '../config/config-follower.ts';
import { located, type ConfigSource } from '../config/config-source.ts';
import { flagText } from '../config/flag-text.ts';
import { ACCESS_RULE_FLAGS, changedFlags, reloadScope, withoutRestartChanges } from '../config/reload-scope.ts';
import type { Log } from '../log/logger.ts';
import type { ConfigurationStep, PreparedConfiguration } from '../reload/reloader.ts';
import { checkTargetResolves, nextGeneration, type Generation } from './generation.ts';

/** What a successful configuration reload changes, for the daemon to act on. */
export interface ConfigChange {
  /** The flags whose values changed and are applied. */
  readonly changed: readonly string[];
  /** The access rules changed (open connections may be checked again). */
  readonly accessChanged: boolean;
}

export interface ConfigurationReloadDeps {
  readonly source: ConfigSource;
  readonly log: Log;
  /** The generation serving now. */
  readonly current: () => Generation;
  readonly followers: () => readonly ConfigFollower[];
  /** Makes a prepared generation current (called from the reload attempt, after the credentials). */
  readonly apply: (next: Generation, change: ConfigChange) => Promise<void>;
}

function describe(name: string, before: ParsedArgs, after: ParsedArgs): string {
  if (name === 'mode') return `mode: ${before.mode} -> ${after.mode}`;
  const spec = FLAGS.find((f) => f.name === name)!;
  const text = (args: ParsedArgs): string => JSON.stringify(flagText(spec, args.values.get(name)!));
  return `${name}: ${text(before)} -> ${text(after)}`;
}

/**
 * --config at reload: the file is read again and checked as at start (parse rules, mode
 * validation, target resolution, access patterns, OPA policies), then applied together with the
 * credentials it names. Flags that only a restart can change keep their running values; the
 * refusal is logged and reported as a pending restart while everything else applies.
 */
export class ConfigurationReload implements ConfigurationStep {
  readonly #deps: ConfigurationReloadDeps;
  /** The pending restart last reported, so that the log says when it changes. */
  #pending: readonly string[] = [];

  constructor(deps: ConfigurationReloadDeps) {
    this.#deps = deps;
  }

  async prepare(): Promise<PreparedConfiguration> {
    const { source, log } = this.#deps;
    const current = this.#deps.current();
    const running = current.args;
    const loaded = await source.load();
    const requested = loaded.args;
    // The whole file must be valid, including what needs a restart: a restart must not fail on it.
    const requestedConfig = located(loaded, () => {
      checkParseRules(requested);
      return buildConfig(requested);
    });
    // Every other flag belongs to the other mode: nothing applies until the restart.
    if (requested.mode !== running.mode) return this.#prepared(current, { changed: [], accessChanged: false }, [describe('mode', running, requested)], [], false, undefined);
    const restartPending = changedFlags(running, requested)
      .filter((name) => reloadScope(name) === 'restart')
      .map((name) => describe(name, running, requested));
    const applied = restartPending.length === 0 ? requested : withoutRestartChanges(requested, running);
    const config = applied === requested ? requestedConfig : located(loaded, () => buildConfig(applied));
    const changed = changedFlags(running, applied);
    const change: ConfigChange = { changed, accessChanged: changed.some((name) => ACCESS_RULE_FLAGS.has(name)) };
    if (changed.length === 0) return this.#prepared(current, change, restartPending, [], false, `configuration file ${source.path}: nothing to apply`);
    if (changed.includes('target')) await located(loaded, () => checkTargetResolves(config));
    const next = await located(loaded, () => nextGeneration(config, applied, current, log));
    try {
      const appliers: Array<() => void> = [];
      for (const follower of this.#deps.followers()) appliers.push(await located(loaded, () => follower.prepare(config)));
      const renewContext = changed.some((name) => reloadScope(name) === 'context');
      const summary = `configuration file ${source.path} changed: ${changed.map((name) => describe(name, running, applied)).join('; ')}`;
      return this.#prepared(next, change, restartPending, appliers, renewContext, summary);
    } catch (err) {
      if (next.opa !== current.opa) void next.opa?.close();
      throw err;
    }
  }

  /** `summary`: the log line once it applies. */
  #prepared(next: Generation, change: ConfigChange, restartPending: readonly string[], appliers: ReadonlyArray<() => void>, renewContext: boolean, summary: string | undefined): PreparedConfiguration {
    const current = this.#deps.current();
    return {
      credentials: { sources: next.config.credentials, tls: next.config.tls },
      renewContext,
      changed: change.changed.length > 0,
      apply: async () => {
        if (summary !== undefined) this.#deps.log.info(summary, change.changed.length > 0 ? { changed: change.changed } : {});
        this.#reportRestart(restartPending);
        if (next !== current) await this.#deps.apply(next, change);
        for (const apply of appliers) apply();
      },
      discard: () => {
        if (next.opa !== current.opa) void next.opa?.close();
      },
    };
  }

  #reportRestart(pending: readonly string[]): void {
    const same = pending.length === this.#pending.length && pending.every((p, i) => p === this.#pending[i]);
    this.#pending = pending;
    if (same) return;
    const { log, source } = this.#deps;
    if (pending.length === 0) log.info(`configuration file ${source.path} matches the running process again: no restart pending`);
    else log.warn(`configuration change in ${source.path} needs a restart and is not applied: ${pending.join('; ')} (other changes apply)`, { restart_pending: pending });
  }

  /** The changes that wait for a restart, as last read from the file. */
  get restartPending(): readonly string[] {
    return this.#pending;
  }
}

import { buildConfig, logSettings } from './config/build.ts';
import { located, type ConfigSource, type LoadedArgs } from './config/config-source.ts';
import { effectiveConfigYaml } from './config/effective-config.ts';
import { Daemon } from './daemon.ts';
import { writeAllSync } from './log/batched-lines.ts';
import { createLog } from './log/logger.ts';
import { resolveGraphite } from './status/metrics-push.ts';

/**
 * `ghostunnel check [--config FILE] [flags]`, for CI pipelines: everything a start validates (mode
 * validation, target resolution, credentials, access patterns, OPA policies, the Graphite name)
 * without binding anything, then the effective configuration on stdout. Log lines go to stderr.
 * Throws what a start would throw; the parse rules were checked by the caller.
 */
export async function checkConfiguration(source: ConfigSource, loaded: LoadedArgs, write: (s: string) => void): Promise<void> {
  const { args, file } = loaded;
  const log = createLog(logSettings(args).quiet, { write: (line) => writeAllSync(2, line) });
  const config = located(loaded, () => buildConfig(args));
  if (config.metrics.graphite) await located(loaded, () => resolveGraphite(config.metrics.graphite!));
  await located(loaded, () => Daemon.create(config, args, log));
  const from = file === undefined ? 'the command line' : `${file.path} and the command line`;
  write(effectiveConfigYaml(loaded, source.commandLine, `ghostunnel check: a valid ${args.mode} configuration (from ${from});\ncredentials and policies loaded, nothing bound. Secrets are masked.`));
}

import { StartupError, UsageError } from './cli/errors.ts';
import { parseArgs } from './cli/parse.ts';
import { buildConfig, checkParseRules } from './config/build.ts';
import { Daemon } from './daemon.ts';
import { createLog, type Log } from './log/logger.ts';

function exit(code: number, log?: Log): never {
  log?.flush();
  process.exit(code);
}

/** The command: parse, validate, run; every failure ends in a message and exit code 1. */
export async function main(argv: readonly string[]): Promise<void> {
  const prog = 'ghostunnel';
  let log: Log | undefined;
  try {
    const outcome = parseArgs(argv);
    if (outcome.kind === 'exit') exit(outcome.code);
    const { args } = outcome;
    checkParseRules(args);
    const config = buildConfig(args);
    log = createLog(config.quiet);
    log.info(`starting ghostunnel in ${config.mode} mode`, { mode: config.mode });
    const daemon = await Daemon.create(config, log);
    exit(await daemon.run(), log);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${prog}: error: ${err.message}, try --help\n`);
      exit(1, log);
    }
    const message = err instanceof StartupError ? err.message : `unexpected failure: ${(err as Error).stack ?? err}`;
    log?.error(`error: ${message}`);
    process.stderr.write(`error: ${message}\n`);
    exit(1, log);
  }
}

if (import.meta.main) void main(process.argv.slice(2));

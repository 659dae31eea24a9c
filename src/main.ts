import { StartupError, UsageError } from './cli/errors.ts';
import { parseArgs } from './cli/parse.ts';
import { buildConfig, checkParseRules, logSettings } from './config/build.ts';
import { Daemon } from './daemon.ts';
import { prepareQuickstart } from './quickstart/quickstart.ts';
import { createLog, type Log } from './log/logger.ts';
import { SyslogDestination } from './log/syslog.ts';
import { resolveGraphite } from './status/metrics-push.ts';
import { reloadRoute } from './status/reload-route.ts';
import { metricsWanted, startStatusAndMetrics } from './status/start.ts';
import { TunnelMetrics } from './status/tunnel-metrics.ts';

function syslogDestination(): SyslogDestination {
  try {
    return new SyslogDestination();
  } catch (err) {
    throw new StartupError(`unable to set up logger: ${(err as Error).message}`);
  }
}

function exit(code: number, log?: Log): never {
  log?.flush();
  process.exit(code);
}

/** The command: parse, validate, run; every failure ends in a message and exit code 1. */
export async function main(argv: readonly string[]): Promise<void> {
  const prog = 'ghostunnel';
  let log: Log | undefined;
  try {
    let outcome = parseArgs(argv);
    if (outcome.kind === 'quickstart') outcome = parseArgs(await prepareQuickstart(outcome.request, (s) => process.stdout.write(s)));
    if (outcome.kind !== 'run') exit(outcome.kind === 'exit' ? outcome.code : 1);
    const { args } = outcome;
    checkParseRules(args);
    const logging = logSettings(args);
    log = createLog(logging.quiet, logging.syslog ? syslogDestination() : undefined);
    log.info(`starting ghostunnel in ${args.mode} mode`, { mode: args.mode });
    const config = buildConfig(args);
    const graphite = config.metrics.graphite ? await resolveGraphite(config.metrics.graphite) : undefined;
    const metrics = metricsWanted(config) ? new TunnelMetrics() : undefined;
    const daemon = await Daemon.create(config, log, metrics);
    const routes = config.enableReload ? [reloadRoute((trigger) => daemon.reload(trigger))] : [];
    if (metrics) await startStatusAndMetrics(daemon, { metrics, graphite, routes });
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

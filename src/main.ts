import { StartupError, UsageError } from './cli/errors.ts';
import { parseArgs } from './cli/parse.ts';
import { buildConfig, checkParseRules, logSettings } from './config/build.ts';
import { ConfigSource, located } from './config/config-source.ts';
import { metricsWanted } from './config/observability.ts';
import { enterSandbox } from './sandbox/sandbox.ts';
import { reached } from './startup.ts';
import type { Quickstart } from './quickstart/quickstart.ts';
import type { Log } from './log/logger.ts';
import type { SyslogDestination } from './log/syslog.ts';

// Everything past validation is imported when it is needed: a process that stops at a usage error,
// or re-executes itself into the sandbox, does not load the daemon first.
async function syslogDestination(): Promise<SyslogDestination> {
  const { SyslogDestination } = await import('./log/syslog.ts');
  try {
    return new SyslogDestination();
  } catch (err) {
    throw new StartupError(`unable to set up logger: ${(err as Error).message}`);
  }
}

async function loadObservability() {
  const [push, reload, start, tunnelMetrics] = await Promise.all([
    import('./status/metrics-push.ts'),
    import('./status/reload-route.ts'),
    import('./status/start.ts'),
    import('./status/tunnel-metrics.ts'),
  ]);
  return { resolveGraphite: push.resolveGraphite, reloadRoute: reload.reloadRoute, startStatusAndMetrics: start.startStatusAndMetrics, TunnelMetrics: tunnelMetrics.TunnelMetrics };
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
    let quickstart: Quickstart | undefined;
    if (outcome.kind === 'quickstart') {
      const { prepareQuickstart } = await import('./quickstart/quickstart.ts');
      quickstart = await prepareQuickstart(outcome.request, (s) => process.stdout.write(s));
      outcome = parseArgs(quickstart.argv);
    }
    if (outcome.kind !== 'run') exit(outcome.kind === 'exit' ? outcome.code : 1);
    // Flags on the command line (and their environment variables) over the --config file.
    const source = new ConfigSource(outcome.commandLine);
    const loaded = await source.load();
    const { args } = loaded;
    located(loaded, () => checkParseRules(args));
    reached('parsed');
    if (outcome.commandLine.check) {
      const { checkConfiguration } = await import('./check.ts');
      await checkConfiguration(source, loaded, (s) => process.stdout.write(s));
      exit(0);
    }
    // Validated: from here on the process runs sandboxed (re-executed in place), unless disabled.
    const sandbox = enterSandbox({
      disabled: args.values.get('disable-landlock') === true || quickstart !== undefined,
      configure: () => located(loaded, () => buildConfig(args)),
      extra: { configFile: source.path, argsFiles: argv.filter((a) => a.startsWith('@') && a.length > 1).map((a) => a.slice(1)) },
    });
    const logging = logSettings(args);
    const [{ createLog }, { Daemon }] = await Promise.all([import('./log/logger.ts'), import('./daemon.ts')]);
    reached('modules');
    const daemonLog = createLog(logging.quiet, logging.syslog ? await syslogDestination() : undefined);
    log = daemonLog;
    log.info(`starting ghostunnel in ${args.mode} mode`, { mode: args.mode, ...(source.path === undefined ? {} : { config: source.path }) });
    if (sandbox.warning) log.warn(`warning: ${sandbox.warning}`);
    const config = located(loaded, () => buildConfig(args));
    // With --config a reload may turn metrics sinks on, so the counters run from the start. Without
    // any sink, the status and metrics modules (prom-client among them) are never loaded.
    const observed = metricsWanted(config) || source.path !== undefined ? await loadObservability() : undefined;
    const graphite = config.metrics.graphite ? await located(loaded, () => observed!.resolveGraphite(config.metrics.graphite!)) : undefined;
    const metrics = observed ? new observed.TunnelMetrics() : undefined;
    const daemon = await Daemon.create(config, args, log, metrics, source.path === undefined ? undefined : source);
    reached('credentials');
    daemon.follow({ prepare: async (next) => () => daemonLog.setQuiet(next.quiet) });
    if (observed && metrics) {
      const routes = config.enableReload ? [observed.reloadRoute((trigger) => daemon.reload(trigger))] : [];
      await observed.startStatusAndMetrics(daemon, { metrics, graphite, routes });
    }
    const running = daemon.run();
    void daemon.listening.then(() => reached('listening'));
    if (quickstart) {
      const { quickstartAddresses } = await import('./quickstart/quickstart.ts');
      void daemon.listening.then(() => process.stdout.write(quickstart.instructions(quickstartAddresses(daemon.listeners))));
    }
    exit(await running, log);
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

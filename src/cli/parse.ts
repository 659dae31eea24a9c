import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { expandArgsFiles } from './argsfile.ts';
import { parseDuration } from './duration.ts';
import { UsageError } from './errors.ts';
import { FLAGS, type FlagScope, type FlagSpec } from './flags.ts';
import { manPage } from './man-page.ts';
import { versionLine } from '../version.ts';

export type Mode = 'server' | 'client';
export type FlagValue = string | boolean | number | string[];

/** What the command line (and its environment fallbacks) said, before any semantic checks. */
export interface ParsedArgs {
  readonly mode: Mode;
  /** Every flag of the mode with its value (defaults filled in), keyed by long name. */
  readonly values: ReadonlyMap<string, FlagValue>;
  /** Flags set on the command line or through their environment variable. */
  readonly explicit: ReadonlySet<string>;
}

/** `ghostunnel quickstart`: a demo tunnel on throwaway credentials. */
export interface QuickstartRequest {
  readonly dir: string;
  readonly listen: string;
  readonly target: string | undefined;
  readonly status: string;
}

/** What the command line and the environment set; a --config file fills in the rest (see argsFor). */
export interface CommandLine {
  /** The sub-command's mode; undefined when the --config file is to name it. */
  readonly mode: Mode | undefined;
  /** Flags set on the command line or through their environment variable, by long name. */
  readonly set: ReadonlyMap<string, FlagValue>;
  /** Which of the two each of them came from. */
  readonly origins: ReadonlyMap<string, 'command line' | 'environment'>;
  /** `ghostunnel check`: validate everything and print the effective configuration, do not run. */
  readonly check: boolean;
}

/** Result of parsing: a command line to run (or check), a quickstart, or text already printed (help, version). */
export type ParseOutcome = { kind: 'run'; commandLine: CommandLine } | { kind: 'quickstart'; request: QuickstartRequest } | { kind: 'exit'; code: number };

function convert(spec: FlagSpec, raw: string): FlagValue {
  switch (spec.kind) {
    case 'duration':
      try {
        return parseDuration(raw);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    case 'uint': {
      if (!/^\d+$/.test(raw) || Number(raw) > 0xffffffff) throw new InvalidArgumentError(`expected an unsigned integer, got "${raw}"`);
      return Number(raw);
    }
    case 'enum':
      if (!spec.choices!.includes(raw)) throw new InvalidArgumentError(`enum value must be one of ${spec.choices!.join(',')}, got '${raw}'`);
      return raw;
    default:
      return raw;
  }
}

function addFlag(cmd: Command, spec: FlagSpec, alias?: string): void {
  const name = alias ?? spec.name;
  const attr = alias ? `alias:${alias}` : spec.name;
  if (spec.kind === 'bool') {
    const on = new Option(`--${name}`, spec.help);
    on.attributeName = () => attr;
    if (spec.hidden || alias) on.hideHelp();
    cmd.addOption(on);
    const off = new Option(`--no-${name}`).hideHelp();
    off.attributeName = () => attr;
    cmd.addOption(off);
    return;
  }
  const opt = new Option(`--${name} <${spec.placeholder ?? spec.kind.toUpperCase()}>`, spec.help);
  opt.attributeName = () => attr;
  if (spec.hidden || alias) opt.hideHelp();
  if (spec.env && !alias) opt.env(spec.env);
  if (spec.kind === 'list') {
    opt.argParser((raw: string, prev: string[] | undefined) => {
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new InvalidArgumentError(`enum value must be one of ${spec.choices.filter(Boolean).join(',')}, got '${raw}'`);
      }
      return prev === undefined ? [raw] : [...prev, raw];
    });
  } else {
    opt.argParser((raw: string) => convert(spec, raw));
  }
  if (spec.default !== undefined && !alias) opt.default(spec.default === '' || typeof spec.default === 'boolean' ? spec.default : convert(spec, spec.default), String(spec.default));
  cmd.addOption(opt);
}

function addFlags(cmd: Command, scope: FlagScope): void {
  for (const spec of FLAGS) {
    if (!spec.scopes.includes(scope)) continue;
    addFlag(cmd, spec);
    for (const alias of spec.aliases ?? []) addFlag(cmd, spec, alias);
  }
}

/**
 * A flag value from text, converted and checked as on the command line (durations, unsigned
 * integers, choices). Bool flags are not text; lists take one element. Throws with the reason.
 */
export function convertFlagText(spec: FlagSpec, raw: string): FlagValue {
  if (spec.kind === 'list') {
    if (spec.choices && !spec.choices.includes(raw)) throw new Error(`enum value must be one of ${spec.choices.filter(Boolean).join(',')}, got '${raw}'`);
    return raw;
  }
  return convert(spec, raw);
}

function defaultValue(spec: FlagSpec): FlagValue {
  if (spec.kind === 'bool') return false;
  if (spec.kind === 'list') return [];
  if (spec.default === undefined) return '';
  return typeof spec.default === 'boolean' || spec.default === '' ? spec.default : convert(spec, spec.default);
}

/** kingpin-style error text from commander's. */
function usageMessage(err: CommanderError): string {
  let msg = err.message.replace(/^error: /, '');
  if (err.code === 'commander.unknownOption') msg = msg.replace(/^unknown option/, 'unknown long flag');
  return msg.split('\n')[0]!;
}

type Chosen = { mode: Mode | 'quickstart' | undefined; cmd: Command; check: boolean };

function modeCommand(parent: Command, mode: Mode, onMode: (chosen: Chosen) => void, write: (s: string) => void, check: boolean, withFlags: boolean): void {
  const sub = parent
    .command(mode)
    .description(mode === 'server' ? 'TLS listener forwarding to a plain TCP or UNIX target.' : 'Plain local listener forwarding to a TLS target.')
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => {} })
    .allowExcessArguments(false)
    .action((_opts, cmd: Command) => onMode({ mode, cmd, check }));
  if (withFlags) addFlags(sub, mode);
}

/**
 * The program. A mode's ~200 options are declared only on the sub-commands the command line names
 * (every one when help is asked for: the sub-command list says which take options): declaring all
 * four sets (server, client, check server, check client) was most of the cost of parsing, which
 * each start pays twice with the sandbox.
 */
function buildProgram(argv: readonly string[], onMode: (chosen: Chosen) => void, write: (s: string) => void): Command {
  const help = argv.includes('--help') || argv.includes('--help-long');
  const withFlags = (mode: Mode): boolean => help || argv.includes(mode);
  const program = new Command('ghostunnel')
    .description('A TLS-terminating TCP tunnel: server mode (TLS in, plain out) and client mode (plain in, TLS out).')
    .version(versionLine(), '--version', 'Show the version and exit.')
    .helpOption('--help', 'Show help (also after a sub-command).')
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => {} })
    // A word that is no sub-command reaches the action, which refuses it in kingpin's words.
    .allowExcessArguments(true)
    .configureHelp({ showGlobalOptions: true })
    // No sub-command: the --config file names the mode.
    .action((_opts, cmd: Command) => onMode({ mode: undefined, cmd, check: false }));
  addFlags(program, 'global');
  for (const mode of ['server', 'client'] as const) modeCommand(program, mode, onMode, write, false, withFlags(mode));
  const check = program
    .command('check')
    .description('Validate the configuration (flags and --config file), load the credentials and policies, print the effective configuration; bind nothing. Exit 0 when valid, 1 otherwise.')
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => {} })
    .allowExcessArguments(true)
    .action((_opts, cmd: Command) => onMode({ mode: undefined, cmd, check: true }));
  for (const mode of ['server', 'client'] as const) modeCommand(check, mode, onMode, write, true, withFlags(mode));
  program
    .command('quickstart')
    .description('Run a demo server tunnel on throwaway credentials (made in --dir) in front of a built-in echo.')
    .option('--dir <DIR>', 'Where the demo CA, server and client certificates are made (and reused).', 'ghostunnel-demo')
    .option('--listen <ADDR>', 'TLS listen address.', '127.0.0.1:8443')
    .option('--target <ADDR>', 'Forward here instead of the built-in echo.')
    .option('--status-addr <ADDR>', 'Plain-HTTP status address.', '127.0.0.1:8444')
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => {} })
    .allowExcessArguments(false)
    .action((_opts, cmd: Command) => onMode({ mode: 'quickstart', cmd, check: false }));
  addHiddenHelp(program, write);
  return program;
}

/** Hidden built-ins (spec §1.1): the man page, and the help of every sub-command at once; exit 0. */
function addHiddenHelp(program: Command, write: (s: string) => void): void {
  const printed = (text: string): never => {
    write(text);
    throw new CommanderError(0, 'ghostunnel.helpPrinted', '');
  };
  for (const name of ['help-man', 'help-custom-man']) {
    program.addOption(new Option(`--${name}`).hideHelp());
    program.on(`option:${name}`, () => printed(manPage()));
  }
  program.addOption(new Option('--help-long').hideHelp());
  program.on('option:help-long', () => printed([program, ...program.commands].map((c) => c.helpInformation()).join('\n')));
}

/**
 * Parses argv (without the node and script paths). Throws UsageError for anything the user must
 * fix; prints help or version itself and reports an exit code for those.
 */
export function parseArgs(argv: readonly string[], write: (s: string) => void = (s) => process.stdout.write(s)): ParseOutcome {
  let expanded: string[];
  try {
    expanded = expandArgsFiles(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let chosen: Chosen | undefined;
  const program = buildProgram(expanded, (c) => (chosen = c), write);
  try {
    program.parse(expanded, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      return { kind: 'exit', code: 0 };
    }
    if (err.code === 'commander.executeSubCommandAsync' || err.exitCode === 0) return { kind: 'exit', code: 0 };
    throw new UsageError(usageMessage(err));
  }
  if (chosen === undefined) throw new UsageError('expected command but got nothing');

  if (chosen.mode === 'quickstart') {
    const o = chosen.cmd.opts<{ dir: string; listen: string; target?: string; statusAddr: string }>();
    return { kind: 'quickstart', request: { dir: o.dir, listen: o.listen, target: o.target, status: o.statusAddr } };
  }
  const { mode, cmd, check } = chosen;
  if (mode === undefined && cmd.args.length > 0) throw new UsageError(`expected command but got "${cmd.args[0]}"`);
  const set = new Map<string, FlagValue>();
  const origins = new Map<string, 'command line' | 'environment'>();
  const sources = cmd === program ? [program] : [cmd, program];
  for (const spec of FLAGS) {
    if (!spec.scopes.includes('global') && (mode === undefined || !spec.scopes.includes(mode))) continue;
    for (const name of [spec.name, ...(spec.aliases ?? []).map((a) => `alias:${a}`)]) {
      for (const source of sources) {
        const origin = source.getOptionValueSource(name);
        if (origin !== 'cli' && origin !== 'env') continue;
        const v = source.getOptionValue(name) as FlagValue;
        const before = set.get(spec.name) as string[] | undefined;
        set.set(spec.name, spec.kind === 'list' ? [...(before ?? []), ...(v as string[])] : v);
        if (origins.get(spec.name) !== 'command line') origins.set(spec.name, origin === 'cli' ? 'command line' : 'environment');
      }
    }
  }
  if (mode === undefined && !set.has('config')) throw new UsageError(check ? 'expected a server or client sub-command, or --config FILE naming the mode' : 'expected command but got nothing');
  return { kind: 'run', commandLine: { mode, set, origins, check } };
}

/**
 * The flag values of a mode: the command line's (and environment's), over `file`'s (a --config
 * file's), over the defaults. A list set on the command line replaces the file's list.
 */
export function argsFor(commandLine: CommandLine, mode: Mode, file: ReadonlyMap<string, FlagValue> = new Map()): ParsedArgs {
  const values = new Map<string, FlagValue>();
  const explicit = new Set<string>();
  for (const spec of FLAGS) {
    if (!spec.scopes.includes('global') && !spec.scopes.includes(mode)) continue;
    const value = commandLine.set.get(spec.name) ?? file.get(spec.name);
    values.set(spec.name, value ?? defaultValue(spec));
    if (value !== undefined) explicit.add(spec.name);
  }
  return { mode, values, explicit };
}

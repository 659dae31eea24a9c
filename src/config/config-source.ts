import { StartupError, UsageError } from '../cli/errors.ts';
import { argsFor, type CommandLine, type ParsedArgs } from '../cli/parse.ts';
import type { ConfigFile } from './config-file.ts';

/** One reading of the configuration: the merged flag values, and the file they partly came from. */
export interface LoadedArgs {
  readonly args: ParsedArgs;
  /** undefined without --config. */
  readonly file: ConfigFile | undefined;
  /** The flags whose value in effect is the file's (set there, not overridden on the command line). */
  readonly fromFile: ReadonlySet<string>;
}

/**
 * Where the configuration comes from: the command line (and environment), over the --config file,
 * over the defaults. The file is read again at every load(), so every reload sees its current
 * content; the command line stays as it was at start.
 */
export class ConfigSource {
  readonly commandLine: CommandLine;

  constructor(commandLine: CommandLine) {
    this.commandLine = commandLine;
  }

  /** The --config file, if any. */
  get path(): string | undefined {
    const path = this.commandLine.set.get('config');
    return typeof path === 'string' && path !== '' ? path : undefined;
  }

  /** Reads the file (if any) and merges it under the command line. Throws ConfigFileError. */
  async load(): Promise<LoadedArgs> {
    const path = this.path;
    // The YAML parser is loaded only when there is a file to read: a start without --config does not pay for it.
    const file = path === undefined ? undefined : (await import('./config-file.ts')).readConfigFile(path, this.commandLine.mode);
    const mode = this.commandLine.mode ?? file?.effectiveMode;
    if (mode === undefined) throw new UsageError('expected command but got nothing');
    const fromFile = new Set([...(file?.values.keys() ?? [])].filter((name) => !this.commandLine.set.has(name)));
    return { args: argsFor(this.commandLine, mode, file?.values), file, fromFile };
  }
}

const FLAG_MENTION = /--([a-z0-9]+(?:-[a-z0-9]+)*)/g;

/**
 * Runs a validation step (sync or async) on loaded arguments. An error about flags the file set
 * gets the file and line in front ("config.yaml:4: --allow-all is mutually exclusive …"), listing
 * every such key when there are several; an error about nothing the command line set is put on
 * the file as a whole.
 */
export function located<T>(loaded: LoadedArgs, step: () => T): T {
  const rethrow = (err: unknown): never => {
    throw locate(loaded, err);
  };
  try {
    const result = step();
    return (result instanceof Promise ? result.catch(rethrow) : result) as T;
  } catch (err) {
    return rethrow(err);
  }
}

function locate(loaded: LoadedArgs, err: unknown): unknown {
  const { file } = loaded;
  if (file === undefined || !(err instanceof UsageError || err instanceof StartupError)) return err;
  const mentioned = [...new Set([...err.message.matchAll(FLAG_MENTION)].map((m) => m[1]!))];
  const fromFile = mentioned.filter((name) => loaded.fromFile.has(name));
  const fromCommandLine = mentioned.filter((name) => loaded.args.explicit.has(name) && !loaded.fromFile.has(name));
  let message = err.message;
  if (fromFile.length > 0) {
    const others = fromFile.length > 1 ? ` (${fromFile.map((name) => `${name} at line ${file.lines.get(name)}`).join(', ')})` : '';
    message = `${file.path}:${file.lines.get(fromFile[0]!)}: ${message}${others}`;
  } else if (fromCommandLine.length === 0) {
    message = `${file.path}: ${message}`;
  }
  return err instanceof UsageError ? new UsageError(message) : new StartupError(message);
}

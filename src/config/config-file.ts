import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { StartupError } from '../cli/errors.ts';
import { FLAGS, type FlagSpec } from '../cli/flags.ts';
import { convertFlagText, type FlagValue, type Mode } from '../cli/parse.ts';

/** A --config file that cannot be used; the message starts with "FILE:LINE:" (or "FILE:" for the whole file). */
export class ConfigFileError extends StartupError {
  override name = 'ConfigFileError';
}

/** What a --config file sets: flag values converted as the command line converts them, and where each key is. */
export interface ConfigFile {
  readonly path: string;
  /** `mode:` in the file, if any. */
  readonly mode: Mode | undefined;
  /** The mode the values were checked for: the sub-command's, else the file's. */
  readonly effectiveMode: Mode;
  readonly values: ReadonlyMap<string, FlagValue>;
  /** The line of each key (flag long names, and "mode"), 1-based. */
  readonly lines: ReadonlyMap<string, number>;
}

/** Long names and hidden aliases, both accepted as keys; an alias counts as its flag. */
const BY_KEY: ReadonlyMap<string, FlagSpec> = new Map(FLAGS.flatMap((f) => [[f.name, f] as const, ...(f.aliases ?? []).map((a) => [a, f] as const)]));

/** Plain scalars that YAML reads as null: a key without a value. */
const NO_VALUE = new Set(['', '~', 'null', 'Null', 'NULL']);

/**
 * Reads a --config file: YAML 1.2 (so JSON too), a mapping of long flag names to values plus
 * `mode: server|client`. Every scalar is read as text (YAML's failsafe schema) and converted by
 * the flag's own kind, so `pkcs11-pin: 0123` stays "0123" and `timed-reload: 5m` is a Go duration,
 * as on the command line. Throws ConfigFileError naming the file and line.
 */
export function readConfigFile(path: string, commandLineMode: Mode | undefined): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`${path}: cannot read the --config file: ${(err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const at = lineCounter.linePos(syntax.pos[0]);
    throw new ConfigFileError(`${path}:${at.line}:${at.col}: invalid YAML: ${syntax.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '')}`);
  }
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new ConfigFileError(`${path}:${lineOf(node)}: ${message}`);
  };
  const top = doc.contents;
  if (top !== null && !isMap(top)) fail(top, 'expected a mapping of flag names to values (e.g. "target: 127.0.0.1:8080"), as described in docs/configuration.md');

  const entries: Array<{ key: string; keyNode: Node; value: Node | null }> = [];
  for (const pair of isMap(top) ? top.items : []) {
    const keyNode = pair.key as Node | null;
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') fail(keyNode, 'keys must be flag names (e.g. allow-cn)');
    entries.push({ key: (keyNode as { value: string }).value, keyNode: keyNode as Node, value: resolved(doc, pair.value as Node | null) });
  }

  let mode: Mode | undefined;
  const lines = new Map<string, number>();
  for (const { key, keyNode, value } of entries) {
    if (key !== 'mode') continue;
    const text = scalarText(value, () => fail(value ?? keyNode, 'mode: expected server or client'));
    if (text !== 'server' && text !== 'client') fail(value, `mode: expected server or client, got "${text}"`);
    mode = text as Mode;
    lines.set('mode', lineOf(keyNode));
    if (commandLineMode !== undefined && mode !== commandLineMode) fail(keyNode, `mode: ${mode} conflicts with the ${commandLineMode} sub-command on the command line`);
  }
  const effectiveMode = commandLineMode ?? mode;
  if (effectiveMode === undefined) throw new ConfigFileError(`${path}: no mode: add "mode: server" or "mode: client" to the file, or give the sub-command`);

  const values = new Map<string, FlagValue>();
  for (const { key, keyNode, value } of entries) {
    if (key === 'mode') continue;
    if (key === 'config') fail(keyNode, 'config: a configuration file cannot name another one');
    const spec = BY_KEY.get(key);
    if (spec === undefined) fail(keyNode, `unknown key "${key}": keys are the long flag names (without --) and mode; see docs/configuration.md`);
    const flag = spec as FlagSpec;
    if (!flag.scopes.includes('global') && !flag.scopes.includes(effectiveMode)) fail(keyNode, `${key}: a ${flag.scopes.join('/')}-mode flag, not valid in ${effectiveMode} mode`);
    if (values.has(flag.name)) fail(keyNode, `${key}: --${flag.name} is set twice (once through an alias)`);
    try {
      values.set(flag.name, flagValue(flag, value));
    } catch (err) {
      const at = err instanceof ValueError ? err.node : value;
      fail(at ?? keyNode, `${key}: ${(err as Error).message}`);
    }
    lines.set(flag.name, lineOf(keyNode));
  }
  return { path, mode, effectiveMode, values, lines };
}

/** A value that cannot be used, and the node (a list item, say) at fault. */
class ValueError extends Error {
  readonly node: Node | null;
  constructor(node: Node | null, message: string) {
    super(message);
    this.node = node;
  }
}

function resolved(doc: Document, node: Node | null): Node | null {
  return isAlias(node) ? (node.resolve(doc) as Node | undefined) ?? null : node;
}

/** The text of a scalar; `missing` handles null, a key without a value, and anything not a scalar. */
function scalarText(node: Node | null, missing: () => never): string {
  if (!isScalar(node) || typeof node.value !== 'string') return missing();
  if (node.type === 'PLAIN' && NO_VALUE.has(node.value)) return missing();
  return node.value;
}

/** One scalar converted by the flag's kind; throws ValueError at the node. */
function scalarValue(spec: FlagSpec, node: Node | null, expected: string): FlagValue {
  const text = scalarText(node, () => {
    if (node === null || isScalar(node)) throw new ValueError(node, 'no value (remove the key to leave the flag unset)');
    throw new ValueError(node, `expected ${expected}, got ${isSeq(node) ? 'a list' : 'a mapping'}`);
  });
  if (spec.kind === 'bool') {
    if (/^true$/i.test(text)) return true;
    if (/^false$/i.test(text)) return false;
    throw new ValueError(node, `expected true or false, got "${text}"`);
  }
  try {
    return convertFlagText(spec, text);
  } catch (err) {
    throw new ValueError(node, (err as Error).message);
  }
}

function flagValue(spec: FlagSpec, node: Node | null): FlagValue {
  if (spec.kind !== 'list') return scalarValue(spec, node, spec.kind === 'bool' ? 'true or false' : 'a single value');
  if (!isSeq(node)) return [scalarValue(spec, node, 'a value or a list of values') as string];
  return node.items.map((item) => scalarValue(spec, item as Node | null, 'a list of single values') as string);
}

import { FLAGS, type FlagSpec } from '../cli/flags.ts';
import { reloadScope, type ReloadScope } from './reload-scope.ts';

// docs/configuration.md's list of keys and docs/configuration.schema.json, made from the flag
// table so that neither can miss a flag (scripts/docs.ts writes them; a test keeps them current).

/** The flags a --config file may set: all that work on this platform, except --config itself. */
export function configKeys(): FlagSpec[] {
  return FLAGS.filter((f) => f.name !== 'config' && f.status === 'implemented');
}

const VALUE: Record<FlagSpec['kind'], string> = {
  string: 'text',
  bool: '`true` or `false`',
  duration: 'Go duration (`90s`, `5m`, `1h30m`)',
  uint: 'unsigned integer',
  enum: 'one of',
  list: 'list of text',
};

/** "at once": for new connections (open ones keep theirs), timers and sinks. */
const ON_RELOAD: Record<ReloadScope, string> = {
  hot: 'at once',
  context: 'at once, new TLS context',
  restart: 'restart',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function valueText(spec: FlagSpec): string {
  const choices = spec.choices?.filter(Boolean).map((c) => `\`${c}\``).join(', ');
  if (spec.kind === 'enum') return `one of ${choices}`;
  if (spec.kind === 'list' && choices) return `list of ${choices}`;
  return VALUE[spec.kind];
}

function defaultText(spec: FlagSpec): string {
  if (spec.kind === 'bool') return '`false`';
  if (spec.kind === 'list') return '`[]`';
  return spec.default === undefined || spec.default === '' ? '' : `\`${String(spec.default)}\``;
}

const BEGIN = '<!-- keys: generated from src/cli/flags.ts by scripts/docs.ts; edit there -->';
const END = '<!-- end of generated keys -->';

/** The table of keys, one row per flag. */
export function configKeyTable(): string {
  const rows = configKeys().map((spec) => {
    const key = [spec.name, ...(spec.aliases ?? [])].map((k) => `\`${k}\``).join(', ');
    const modes = spec.scopes.includes('global') ? 'both' : spec.scopes.join(', ');
    return `| ${key} | ${valueText(spec)} | ${modes} | ${defaultText(spec)} | ${ON_RELOAD[reloadScope(spec.name)]} | ${cell(spec.help)} |`;
  });
  return [
    '| key | value | mode | default | on reload | what it does |',
    '|---|---|---|---|---|---|',
    '| `mode` | `server` or `client` | | the sub-command | restart | Which tunnel this file describes. Needed unless the sub-command is given. |',
    ...rows,
  ].join('\n');
}

/** docs/configuration.md with its generated section replaced by the current table. */
export function configurationDoc(current: string): string {
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md: the markers "${BEGIN}" and "${END}" are missing`);
  return `${current.slice(0, start)}${BEGIN}\n${configKeyTable()}\n${current.slice(end)}`;
}

const DURATION = '^[-+]?((\\d+\\.?\\d*|\\.\\d+)(ns|us|µs|μs|ms|s|m|h))+$|^[-+]?0$';

function schemaOf(spec: FlagSpec): Record<string, unknown> {
  const description = spec.help;
  const defaults = spec.default === undefined ? {} : { default: spec.default };
  switch (spec.kind) {
    case 'bool':
      return { description, type: 'boolean', default: false };
    case 'duration':
      return { description, anyOf: [{ type: 'string', pattern: DURATION }, { const: 0 }], ...defaults };
    case 'uint':
      return { description, type: 'integer', minimum: 0, maximum: 0xffffffff, ...(spec.default === undefined ? {} : { default: Number(spec.default) }) };
    case 'enum':
      return { description, enum: spec.choices };
    case 'list': {
      const item = spec.choices ? { type: 'string', enum: spec.choices.filter(Boolean) } : { type: 'string' };
      return { description, anyOf: [{ type: 'array', items: item }, item], default: [] };
    }
    default:
      return { description, type: 'string', ...defaults };
  }
}

/** A JSON Schema (draft 2020-12) of a --config file, for editors and CI linters. */
export function configSchema(): string {
  const properties: Record<string, unknown> = {
    mode: { description: 'Which tunnel this file describes; needed unless the sub-command is given.', enum: ['server', 'client'] },
  };
  for (const spec of configKeys()) {
    properties[spec.name] = schemaOf(spec);
    for (const alias of spec.aliases ?? []) properties[alias] = { ...schemaOf(spec), description: `Same as ${spec.name}.` };
  }
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'ghostunnel --config file',
    description: 'Keys are the long flag names; see docs/configuration.md. Flags on the command line override the file.',
    type: 'object',
    additionalProperties: false,
    properties,
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

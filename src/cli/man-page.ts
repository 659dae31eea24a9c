// The man page (roff, man macros), generated from the flag table: printed by the hidden
// --help-man and --help-custom-man flags, and written to docs/ghostunnel.1 by `npm run docs`.
import { VERSION } from '../version.ts';
import { BUILTIN_FLAGS, SUBCOMMANDS, type Builtin } from './builtins.ts';
import { FLAGS, type FlagScope, type FlagSpec } from './flags.ts';

/**
 * Text for a roff paragraph: backslashes escaped, a leading dot or quote neutralised, and dashes
 * that start a word (flags such as --listen) written as \- so they print and copy as ASCII minus.
 */
function text(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/(^|[\s(\[|,'"`/=])(-+)/g, (_m, before: string, dashes: string) => before + '\\-'.repeat(dashes.length))
    .replace(/^([.'])/gm, '\\&$1');
}

function flagName(name: string): string {
  return `\\fB${text(`--${name}`)}\\fR`;
}

function flagHead(spec: FlagSpec): string {
  const names = [spec.name, ...(spec.aliases ?? [])].map((n) => flagName(n) + (spec.kind === 'bool' ? '' : ` \\fI${text(spec.placeholder ?? spec.kind.toUpperCase())}\\fR`));
  return names.join(', ');
}

function flagBody(spec: FlagSpec): string {
  const parts = [spec.help];
  if (spec.kind === 'bool') parts.push(`Negate with --no-${spec.name}.`);
  if (spec.default !== undefined && spec.default !== '' && spec.kind !== 'bool') parts.push(`Default: ${spec.default}.`);
  if (spec.env) parts.push(`Environment: ${spec.env}.`);
  if (spec.status === 'pending') parts.push('Recognised but not supported yet: refused at start.');
  if (spec.status === 'platform') parts.push('Not available in this implementation: refused at start.');
  return text(parts.join(' '));
}

function options(title: string, specs: readonly FlagSpec[]): string[] {
  const lines = [`.SH ${title}`];
  for (const spec of specs) lines.push('.TP', flagHead(spec), flagBody(spec));
  return lines;
}

const SCOPE_TITLES: ReadonlyArray<[FlagScope, string]> = [
  ['global', 'GLOBAL OPTIONS'],
  ['server', 'SERVER OPTIONS'],
  ['client', 'CLIENT OPTIONS'],
];

/** "[GLOBAL OPTIONS] server [OPTIONS]": the sub-command in bold, the rest in italics. */
function synopsis(command: Builtin): string {
  return text(command.synopsis ?? command.name)
    .split(' ')
    .map((word) => (word === command.name ? `\\fB${word}\\fR` : `\\fI${word}\\fR`))
    .join(' ');
}

function section(title: string, paragraphs: readonly string[]): string[] {
  return [`.SH ${title}`, ...paragraphs.flatMap((p, i) => (i === 0 ? [text(p)] : ['.PP', text(p)]))];
}

function tagged(title: string, items: ReadonlyArray<readonly [string, string]>): string[] {
  return [`.SH ${title}`, ...items.flatMap(([tag, body]) => ['.TP', `\\fB${text(tag)}\\fR`, text(body)])];
}

/** The whole page. No date in the header, so the committed copy changes only when the flags do. */
export function manPage(): string {
  const visible = (scope: FlagScope): FlagSpec[] => FLAGS.filter((f) => f.scopes.includes(scope) && !f.hidden && (scope === 'global' || !f.scopes.includes('global')));
  const hidden = FLAGS.filter((f) => f.hidden);
  const envVars = FLAGS.filter((f) => f.env !== undefined);
  const lines = [
    `.TH GHOSTUNNEL 1 "" "ghostunnel-ts ${VERSION}" "User Commands"`,
    '.SH NAME',
    'ghostunnel \\- TLS tunnel daemon with hitless certificate reload',
    '.SH SYNOPSIS',
    ...SUBCOMMANDS.filter((c) => c.status !== 'unsupported').flatMap((c, i) => [
      ...(i === 0 ? [] : ['.br']),
      `\\fBghostunnel\\fR ${synopsis(c)}`,
    ]),
    ...section('DESCRIPTION', [
      'ghostunnel is a TLS tunnel. In server mode it accepts TLS (mutual TLS unless --disable-authentication), checks the client certificate against the --allow-* rules and forwards the plain bytes to --target. In client mode it accepts plain connections on a local --listen address and forwards them over TLS to --target, verifying the server.',
      'Credentials are reloaded without dropping connections on SIGHUP or SIGUSR1, every --timed-reload interval, when the files change (--auto-reload, --auto-reload-interval) or on POST /_reload (--enable-reload). A replacement that does not load, or does not pass a test handshake, is refused and the credentials in use stay.',
      'An argument @FILE is replaced by the lines of FILE, one argument per line (blank lines and lines starting with # skipped). Durations use Go syntax: 300ms, 10s, 1m30s, 1.5h.',
    ]),
    ...tagged(
      'COMMANDS',
      SUBCOMMANDS.filter((c) => c.status !== 'unsupported').map((c) => [c.name, c.help] as const),
    ),
    ...SCOPE_TITLES.flatMap(([scope, title]) => options(title, visible(scope))),
    ...options('COMPATIBILITY OPTIONS', hidden),
    ...tagged(
      'BUILT-IN OPTIONS',
      BUILTIN_FLAGS.filter((b) => b.status === 'implemented').map((b) => [`--${b.name}`, b.help] as const),
    ),
    ...tagged('ENVIRONMENT', [
      ...envVars.map((f) => [f.env!, `Value of --${f.name} when the flag is absent.`] as const),
      ['NOTIFY_SOCKET', 'systemd readiness notifications (READY=1, RELOADING=1, STOPPING=1, STATUS=).'],
      ['WATCHDOG_USEC', 'systemd watchdog: WATCHDOG=1 is sent every half interval.'],
      ['LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES', 'systemd socket activation, for --listen systemd:NAME and --status systemd:NAME.'],
    ]),
    ...tagged('SIGNALS', [
      ['SIGHUP, SIGUSR1', 'Reload the credentials (and OPA policies). Open connections are not touched.'],
      ['SIGTERM, SIGINT', 'Stop accepting, let open connections finish (at most --shutdown-timeout), then exit.'],
      ['SIGUSR2', 'Start a successor process with the same arguments, hand it the listening sockets, then drain and exit.'],
    ]),
    ...tagged('EXIT STATUS', [
      ['0', 'Drained after a shutdown signal or POST /_shutdown; --help, --version.'],
      ['1', 'Usage error, start-up failure, or --shutdown-timeout expired while draining.'],
    ]),
    ...section('SEE ALSO', ['docs/migration.md (differences from Ghostunnel), docs/runbook.md (reloads and upgrades), docs/metrics.md, docs/systemd.md.']),
  ];
  return `${lines.join('\n')}\n`;
}

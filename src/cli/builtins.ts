// What the command line has besides the flag table: the sub-commands and the built-in flags
// (kingpin's help, version, man page and completion flags). Like flags.ts, these drive the man page
// and the migration guide, so each is described here once.

/** implemented: as in Ghostunnel. unsupported: refused as an unknown flag or command. new: not in Ghostunnel. */
export type BuiltinStatus = 'implemented' | 'unsupported' | 'new';

export interface Builtin {
  readonly name: string;
  readonly help: string;
  readonly status: BuiltinStatus;
  readonly hidden?: boolean;
  /** How it differs from Ghostunnel, or why it is not supported. */
  readonly note?: string;
  /** A sub-command's arguments in the man page's synopsis. */
  readonly synopsis?: string;
}

export const SUBCOMMANDS: readonly Builtin[] = [
  { name: 'server', status: 'implemented', synopsis: '[GLOBAL OPTIONS] server [OPTIONS]', help: 'TLS listener forwarding to a plain TCP or UNIX target.' },
  { name: 'client', status: 'implemented', synopsis: '[GLOBAL OPTIONS] client [OPTIONS]', help: 'Plain local listener forwarding to a TLS target.' },
  {
    name: 'check',
    status: 'new',
    synopsis: '[GLOBAL OPTIONS] check [server|client] [OPTIONS]',
    help: 'Validate the flags and --config file, load the credentials and policies and print the effective configuration, without binding anything; exit 0 when valid.',
  },
  { name: 'quickstart', status: 'new', synopsis: 'quickstart [--dir DIR] [--listen ADDR] [--target ADDR] [--status-addr ADDR]', help: 'Run a demo server tunnel on throwaway credentials in front of a built-in echo; prints the commands to try it.' },
  {
    name: 'service',
    status: 'unsupported',
    help: 'Install, remove, start, stop or query a Windows service (Windows builds of Ghostunnel only).',
    note: 'Not supported, nor its --service-name flag: run ghostunnel under a service wrapper instead (docs/windows.md).',
  },
];

export const BUILTIN_FLAGS: readonly Builtin[] = [
  { name: 'help', status: 'implemented', help: 'Show help; after a sub-command, with that mode\'s flags.' },
  {
    name: 'version',
    status: 'implemented',
    help: 'Show the version and exit.',
    note: 'Prints `rev v<version> built with node<version> (pkcs11: true, keychain: false, openssl <version>)`: Node.js stands where the Go version was.',
  },
  { name: 'help-long', status: 'implemented', hidden: true, help: 'Show the help of every sub-command.' },
  { name: 'help-man', status: 'implemented', hidden: true, help: 'Print the man page (roff) and exit.' },
  { name: 'help-custom-man', status: 'implemented', hidden: true, help: 'Print the man page (roff) and exit.' },
  { name: 'completion-bash', status: 'unsupported', hidden: true, help: 'Shell completion candidates.', note: 'No shell completion.' },
  { name: 'completion-script-bash', status: 'unsupported', hidden: true, help: 'A bash completion script.', note: 'No shell completion.' },
  { name: 'completion-script-zsh', status: 'unsupported', hidden: true, help: 'A zsh completion script.', note: 'No shell completion.' },
  {
    name: 'service-name',
    status: 'unsupported',
    help: 'Windows service name for `ghostunnel service`.',
    note: 'Windows service management is not built in: see docs/windows.md.',
  },
];

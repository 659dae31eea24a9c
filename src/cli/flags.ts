// The one table of command-line flags. It drives the parser, --help, the man page and the
// migration guide, so a flag is described here and nowhere else.

export type FlagKind = 'string' | 'bool' | 'duration' | 'uint' | 'enum' | 'list';
/** Where a flag is accepted: before or after the sub-command (global), or by one mode. */
export type FlagScope = 'global' | 'server' | 'client';
/**
 * implemented: works as in Ghostunnel (or better). pending: recognised, refused with
 * "--X is not supported yet" until its issue lands. platform: exists in Ghostunnel only on other
 * operating systems or builds; refused with a message that says so.
 */
export type FlagStatus = 'implemented' | 'pending' | 'platform';

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly scopes: readonly FlagScope[];
  readonly help: string;
  readonly placeholder?: string;
  readonly default?: string | boolean;
  readonly env?: string;
  readonly choices?: readonly string[];
  readonly hidden?: boolean;
  /** Hidden alternative names that set the same value (kingpin aliases). */
  readonly aliases?: readonly string[];
  readonly status: FlagStatus;
  /**
   * Extra words for the migration guide (docs/migration.md, `npm run docs`) when behaviour differs
   * from Ghostunnel. A flag Ghostunnel does not have starts its note with "Extension:".
   */
  readonly note?: string;
}

const G: readonly FlagScope[] = ['global'];
const S: readonly FlagScope[] = ['server'];
const C: readonly FlagScope[] = ['client'];
const SC: readonly FlagScope[] = ['server', 'client'];

export const FLAGS: readonly FlagSpec[] = [
  // Identity and trust
  { name: 'keystore', kind: 'string', scopes: G, placeholder: 'PATH', env: 'KEYSTORE_PATH', status: 'implemented',
    help: 'Certificate and private key: combined PEM, PKCS#12 or JCEKS (format detected). With PKCS#11, the certificate chain only.' },
  { name: 'cert', kind: 'string', scopes: G, placeholder: 'PATH', env: 'CERT_PATH', status: 'implemented',
    help: 'PEM certificate chain, leaf first (needs --key).' },
  { name: 'key', kind: 'string', scopes: G, placeholder: 'PATH', env: 'KEY_PATH', status: 'implemented',
    help: 'PEM private key (RSA, ECDSA or Ed25519) for --cert.' },
  { name: 'storepass', kind: 'string', scopes: G, placeholder: 'PASS', env: 'KEYSTORE_PASS', status: 'implemented',
    help: 'Password of a PKCS#12 or JCEKS keystore.' },
  { name: 'cacert', kind: 'string', scopes: G, placeholder: 'CACERT', env: 'CACERT_PATH', status: 'implemented',
    help: 'PEM bundle of trusted CA certificates (default: the system roots).' },
  { name: 'use-workload-api', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Take the identity and trust bundle from the SPIFFE Workload API.' },
  { name: 'use-workload-api-addr', kind: 'string', scopes: G, placeholder: 'ADDR', env: 'SPIFFE_ENDPOINT_SOCKET', status: 'implemented',
    help: 'SPIFFE Workload API address; implies --use-workload-api.' },
  { name: 'use-workload-api-timeout', kind: 'duration', scopes: G, default: '10m', status: 'implemented',
    help: 'How long to wait for the first SVID at start (0: forever).' },
  { name: 'keychain-identity', kind: 'string', scopes: G, placeholder: 'CN', status: 'platform',
    help: 'Keychain identity by subject CN or serial (macOS and Windows builds of Ghostunnel only).' },
  { name: 'keychain-issuer', kind: 'string', scopes: G, placeholder: 'CN', status: 'platform',
    help: 'Keychain identity by issuer CN (macOS and Windows builds of Ghostunnel only).' },
  { name: 'keychain-require-token', kind: 'bool', scopes: G, status: 'platform',
    help: 'Only hardware-token identities from the keychain (macOS only).' },
  { name: 'pkcs11-module', kind: 'string', scopes: G, placeholder: 'PATH', env: 'PKCS11_MODULE', status: 'implemented',
    help: 'PKCS#11 module (.so) holding the private key; --cert or --keystore is then the certificate chain.',
    note: "The key is used through OpenSSL's pkcs11 engine (Debian package libengine-pkcs11-openssl)." },
  { name: 'pkcs11-token-label', kind: 'string', scopes: G, placeholder: 'LABEL', env: 'PKCS11_TOKEN_LABEL', status: 'implemented',
    help: 'PKCS#11 token label.' },
  { name: 'pkcs11-pin', kind: 'string', scopes: G, placeholder: 'PIN', env: 'PKCS11_PIN', status: 'implemented',
    help: 'PKCS#11 token PIN (the PKCS11_PIN variable keeps it out of the process list).' },

  // Configuration file
  { name: 'config', kind: 'string', scopes: G, placeholder: 'FILE', status: 'implemented',
    help: 'Read flags from this YAML or JSON file (keys are long flag names, plus mode: server|client); the command line and environment override it. Re-read at every reload.',
    note: 'Extension: not in Ghostunnel. See docs/configuration.md.' },
  { name: 'reauthorize-open-connections', kind: 'bool', scopes: G, status: 'implemented',
    help: 'When a reload changes the access rules, check open connections against the new rules and close those no longer allowed.',
    note: 'Extension: not in Ghostunnel, which never touches open connections (the default here too). See docs/configuration.md.' },

  // Reload and timeouts
  { name: 'timed-reload', kind: 'duration', scopes: G, placeholder: 'DURATION', default: '0', status: 'implemented',
    help: 'Reload credentials every interval (0: off).', note: 'Rotates only when the files changed: an unchanged reload is logged as such (Ghostunnel reloads unconditionally).' },
  { name: 'auto-reload', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Reload as soon as a credential file (--keystore, --cert, --key, --cacert, policy bundles) or the --config file changes on disk; follows symlink swaps (Kubernetes Secrets, certbot).',
    note: 'Extension: not in Ghostunnel.' },
  { name: 'auto-reload-interval', kind: 'duration', scopes: G, placeholder: 'DURATION', default: '0', status: 'implemented',
    help: 'Check the credential files every interval by modification time and content hash, for file systems without change events (0: off).',
    note: 'Extension: not in Ghostunnel.' },
  { name: 'shutdown-timeout', kind: 'duration', scopes: G, default: '5m', status: 'implemented',
    help: 'Longest graceful drain after a shutdown signal; then exit 1.' },
  { name: 'connect-timeout', kind: 'duration', scopes: G, default: '10s', status: 'implemented',
    help: 'Budget for the TLS handshake plus the backend dial (client mode: proxy, TCP and TLS to the target).' },
  { name: 'close-timeout', kind: 'duration', scopes: G, default: '60s', status: 'implemented',
    help: 'After one direction of a connection ends, how long the other may continue (0: close at once).' },
  { name: 'max-conn-lifetime', kind: 'duration', scopes: G, default: '0s', status: 'implemented',
    help: 'Close connections older than this (0: no limit).' },
  { name: 'workers', kind: 'string', scopes: G, placeholder: 'N|auto', default: '1', env: 'GHOSTUNNEL_WORKERS', status: 'implemented',
    help: 'Serve connections on N event loops (threads) sharing the listening socket; auto: one per CPU. Reload, status, metrics and drain stay those of one daemon.',
    note: 'Extension: not in Ghostunnel. Not with --pkcs11-module or --auto-acme-cert. See docs/performance.md.' },
  { name: 'data-plane', kind: 'enum', scopes: G, placeholder: 'native|node', choices: ['native', 'node'], env: 'GHOSTUNNEL_DATA_PLANE', status: 'implemented',
    help: 'What carries the connections: native (the C++ engine, Linux) or node (Node.js tls and net, everywhere). Default: native where the engine is built, else node.',
    note: 'Extension: not in Ghostunnel. See docs/data-plane.md for what differs.' },
  { name: 'max-concurrent-conns', kind: 'uint', scopes: G, default: '0', status: 'implemented',
    help: 'Most connections handled at once; when full, stop accepting (0: no limit).' },

  // Metrics and status
  { name: 'metrics-graphite', kind: 'string', scopes: G, placeholder: 'ADDR', status: 'implemented',
    help: 'Send metrics to this Graphite server (plaintext protocol).' },
  { name: 'metrics-url', kind: 'string', scopes: G, placeholder: 'URL', status: 'implemented',
    help: 'POST the JSON metrics to this URL every --metrics-interval.' },
  { name: 'metrics-prefix', kind: 'string', scopes: G, placeholder: 'PREFIX', default: 'ghostunnel', status: 'implemented',
    help: 'Prefix of every metric name.' },
  { name: 'metrics-interval', kind: 'duration', scopes: G, default: '30s', status: 'implemented',
    help: 'How often metrics are collected and posted.' },
  { name: 'status', kind: 'string', scopes: G, placeholder: 'ADDR', status: 'implemented',
    help: 'Serve /_status and /_metrics on [http://|https://]HOST:PORT, unix:PATH or systemd:NAME.',
    note: '/_status also reports the last reload\'s outcome (last_reload_ok, last_reload_error, last_successful_reload), the data plane serving (data_plane) and the certificates in use; the metrics add reload, byte, handshake-failure and certificate-expiry series.' },
  { name: 'enable-pprof', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Serve Node.js diagnostics (CPU and heap profiles) on the status port.',
    note: 'Node.js in place of Go pprof, under /debug/pprof/: profile (CPU, .cpuprofile), heap (sampled live allocations, .heapprofile: sites and sizes, no memory contents) and goroutine (Go\'s "goroutine profile: total N" text, ?debug=1, counting each side of every open connection, the handshakes and dials under way and every event loop\'s active handles and requests; ?debug=2 per event loop).' },
  { name: 'enable-shutdown', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Accept POST /_shutdown on the status port.' },
  { name: 'enable-reload', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Accept POST /_reload on the status port; answers the outcome as JSON.',
    note: 'Extension: not in Ghostunnel.' },

  // Logging and process
  { name: 'quiet', kind: 'list', scopes: G, placeholder: 'CATEGORY', choices: ['', 'all', 'conns', 'conn-errs', 'handshake-errs'], status: 'implemented',
    help: 'Silence a log category: conns, conn-errs, handshake-errs or all (repeatable).' },
  { name: 'skip-resolve', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Do not require --target to resolve at start.' },
  { name: 'syslog', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Log to the local syslog (facility daemon).',
    note: 'Severity follows the line (info, warning, error) where Ghostunnel logs everything at info.' },
  { name: 'upgrade-exec', kind: 'string', scopes: G, placeholder: 'PATH', env: 'GHOSTUNNEL_UPGRADE_EXEC', status: 'implemented',
    help: 'On SIGUSR2, start this executable (default: the command this process was started with) with the same arguments, hand it the listening sockets and drain.',
    note: 'Extension: not in Ghostunnel. See docs/upgrades.md.' },
  { name: 'eventlog', kind: 'bool', scopes: G, status: 'platform',
    help: 'Log to the Windows Event Log (Windows builds of Ghostunnel only).' },
  { name: 'disable-landlock', kind: 'bool', scopes: G, status: 'implemented',
    help: 'Turn off the sandbox (Node.js permission model: reads only of the code, credential, policy and configuration files and their directories).',
    note: "The sandbox is Node.js's permission model in place of Landlock: the process re-executes itself under --permission after validating its flags. Off with --pkcs11-module, as in Ghostunnel. See docs/sandbox.md." },
  { name: 'use-landlock', kind: 'bool', scopes: G, hidden: true, status: 'implemented',
    help: 'Deprecated no-op.' },

  // TLS parameters
  { name: 'cipher-suites', kind: 'string', scopes: G, hidden: true, default: 'AES,CHACHA', status: 'implemented',
    help: 'TLS 1.2 cipher suite groups: AES, CHACHA (and UNSAFE-AZURE with --allow-unsafe-cipher-suites).' },
  { name: 'allow-unsafe-cipher-suites', kind: 'bool', scopes: G, hidden: true, status: 'implemented',
    help: 'Permit the UNSAFE-AZURE cipher suite group.' },
  { name: 'max-tls-version', kind: 'string', scopes: G, hidden: true, default: '', status: 'implemented',
    help: 'Highest TLS version: TLS1.2 or TLS1.3.' },

  // Both modes
  { name: 'listen', kind: 'string', scopes: SC, placeholder: 'ADDR', status: 'implemented',
    help: 'Listen on HOST:PORT or unix:PATH (systemd:NAME with socket activation).' },
  { name: 'target', kind: 'string', scopes: SC, placeholder: 'ADDR', status: 'implemented',
    help: 'Forward to HOST:PORT (or unix:PATH in server mode).' },
  { name: 'disable-authentication', kind: 'bool', scopes: SC, status: 'implemented',
    help: 'Server: do not ask for client certificates. Client: present none.' },

  // Server mode
  { name: 'target-status', kind: 'string', scopes: S, placeholder: 'URL', default: '', status: 'implemented',
    help: 'Health URL checked by /_status, sent over a connection to --target.' },
  { name: 'proxy-protocol', kind: 'bool', scopes: S, status: 'implemented',
    help: 'Send a PROXY protocol v2 header to the backend (addresses only).' },
  { name: 'proxy-protocol-mode', kind: 'enum', scopes: S, placeholder: 'MODE', choices: ['conn', 'tls', 'tls-full'], status: 'implemented',
    help: 'PROXY protocol v2 with TLS details: conn, tls or tls-full.' },
  { name: 'unsafe-target', kind: 'bool', scopes: S, status: 'implemented',
    help: 'Allow a --target that is not loopback or a UNIX socket.' },
  { name: 'allow-all', kind: 'bool', scopes: S, status: 'implemented',
    help: 'Allow any client whose certificate chain verifies.' },
  { name: 'allow-cn', kind: 'list', scopes: S, placeholder: 'CN', status: 'implemented',
    help: 'Allow clients with this subject CN (repeatable).' },
  { name: 'allow-ou', kind: 'list', scopes: S, placeholder: 'OU', status: 'implemented',
    help: 'Allow clients with this subject OU (repeatable).' },
  { name: 'allow-dns', kind: 'list', scopes: S, placeholder: 'DNS', aliases: ['allow-dns-san'], status: 'implemented',
    help: 'Allow clients with this DNS SAN (repeatable).' },
  { name: 'allow-ip', kind: 'list', scopes: S, placeholder: 'IP', aliases: ['allow-ip-san'], hidden: true, status: 'implemented',
    help: 'Allow clients with this IP SAN (repeatable).' },
  { name: 'allow-uri', kind: 'list', scopes: S, placeholder: 'URI', aliases: ['allow-uri-san'], status: 'implemented',
    help: 'Allow clients with a URI SAN matching this pattern; * is one segment, a final ** any number (repeatable).' },
  { name: 'allow-spki-pin', kind: 'list', scopes: S, placeholder: 'PIN', status: 'implemented',
    help: 'Allow only clients whose public key hashes to this pin, sha256:BASE64 (repeatable).' },
  { name: 'allow-policy', kind: 'string', scopes: S, placeholder: 'BUNDLE', status: 'implemented',
    help: 'OPA policy deciding which clients are allowed: a wasm bundle (.tar.gz from `opa build -t wasm`, or its directory); Rego source needs `opa` on PATH.',
    note: 'Evaluated with opa-wasm: give a wasm bundle (`opa build -t wasm -e ENTRYPOINT`); a .rego file or a source-only bundle is compiled with the opa CLI if one is on PATH.' },
  { name: 'allow-query', kind: 'string', scopes: S, placeholder: 'QUERY', status: 'implemented',
    help: 'Rego query of --allow-policy, a rule under data, e.g. data.policy.allow (wasm entrypoint policy/allow).' },
  { name: 'auto-acme-cert', kind: 'string', scopes: S, placeholder: 'FQDN', status: 'implemented',
    help: 'Obtain and renew a certificate for FQDN over ACME; TLS-ALPN-01 challenges are answered on the listening port. Account and certificates are kept in $XDG_DATA_HOME/ghostunnel-acme (default ~/.local/share/ghostunnel-acme).',
    note: 'Challenges are answered on --listen (bound before the first certificate is obtained), and also on --auto-acme-alt-tls-alpn-port when set; storage is $XDG_DATA_HOME/ghostunnel-acme instead of certmagic\'s folder, so an existing certmagic account and certificate are not reused.' },
  { name: 'auto-acme-email', kind: 'string', scopes: S, placeholder: 'EMAIL', status: 'implemented',
    help: 'ACME account e-mail address.' },
  { name: 'auto-acme-agree-to-tos', kind: 'bool', scopes: S, status: 'implemented',
    help: "Agree to the ACME CA's terms of service." },
  { name: 'auto-acme-ca', kind: 'string', scopes: S, placeholder: 'URL', status: 'implemented',
    help: 'ACME directory URL (default: Let\'s Encrypt).' },
  { name: 'auto-acme-testca', kind: 'string', scopes: S, placeholder: 'URL', status: 'implemented',
    help: 'ACME directory URL used for all ACME traffic (testing).' },
  { name: 'auto-acme-renew-check-interval', kind: 'duration', scopes: S, hidden: true, default: '10m', status: 'implemented',
    help: 'How often to check whether the ACME certificate needs renewal.' },
  { name: 'auto-acme-alt-tls-alpn-port', kind: 'uint', scopes: S, hidden: true, default: '0', status: 'implemented',
    help: 'Also answer TLS-ALPN-01 challenges on this port, for when the public port 443 is forwarded to it: a listener on --listen\'s host that answers ACME validations only (0: on --listen only).',
    note: 'A listener of its own for as long as the daemon runs, on --listen\'s host (all interfaces for unix: and systemd: listeners), for first issuance and renewals; --listen answers validations too. certmagic binds it only while a challenge is pending, on all interfaces, and its default 443 is left to --listen here.' },

  // Client mode
  { name: 'unsafe-listen', kind: 'bool', scopes: C, status: 'implemented',
    help: 'Allow a --listen address that is not loopback or a UNIX socket.' },
  { name: 'override-server-name', kind: 'string', scopes: C, placeholder: 'NAME', status: 'implemented',
    help: 'Name sent as SNI and verified in the server certificate instead of the target host.' },
  { name: 'proxy', kind: 'string', scopes: C, placeholder: 'URL', aliases: ['connect-proxy'], status: 'implemented',
    help: 'Reach the target through a proxy that resolves its name: http://HOST:PORT (CONNECT, no proxy authentication) or socks5://[USER:PASS@]HOST:PORT (also socks5h://).' },
  { name: 'verify-cn', kind: 'list', scopes: C, placeholder: 'CN', status: 'implemented',
    help: 'Also require this server CN (repeatable).' },
  { name: 'verify-ou', kind: 'list', scopes: C, placeholder: 'OU', status: 'implemented',
    help: 'Also require this server OU (repeatable).' },
  { name: 'verify-dns', kind: 'list', scopes: C, placeholder: 'DNS', aliases: ['verify-dns-san'], status: 'implemented',
    help: 'Also require this server DNS SAN (repeatable).' },
  { name: 'verify-ip', kind: 'list', scopes: C, placeholder: 'IP', aliases: ['verify-ip-san'], hidden: true, status: 'implemented',
    help: 'Also require this server IP SAN (repeatable).' },
  { name: 'verify-uri', kind: 'list', scopes: C, placeholder: 'URI', aliases: ['verify-uri-san'], status: 'implemented',
    help: 'Also require a server URI SAN matching this pattern (repeatable).' },
  { name: 'verify-spki-pin', kind: 'list', scopes: C, placeholder: 'PIN', status: 'implemented',
    help: 'Accept only a server whose public key hashes to this pin (repeatable).' },
  { name: 'verify-policy', kind: 'string', scopes: C, placeholder: 'BUNDLE', status: 'implemented',
    help: 'OPA policy deciding which servers are accepted: a wasm bundle (.tar.gz from `opa build -t wasm`, or its directory); Rego source needs `opa` on PATH.',
    note: 'Evaluated with opa-wasm, as --allow-policy.' },
  { name: 'verify-query', kind: 'string', scopes: C, placeholder: 'QUERY', status: 'implemented',
    help: 'Rego query of --verify-policy, a rule under data, e.g. data.policy.allow.' },
];

export function flagsFor(scope: FlagScope): FlagSpec[] {
  return FLAGS.filter((f) => f.scopes.includes(scope));
}

// Which platforms a test runs on, as node:test's `skip` option: false where it runs, else the
// reason, which the runner prints. One helper decides, so the suite CI runs on macOS and Windows
// (.github/workflows/portable.yml) skips exactly what needs Linux or Unix, and says why.

/** For a test that needs Linux: its programs (systemd-socket-activate, softhsm2, …), /proc, or a Linux-only feature. */
export function linuxOnly(reason: string, platform: NodeJS.Platform = process.platform): string | false {
  return platform === 'linux' ? false : `needs Linux: ${reason} (this is ${platform})`;
}

/** For a test that needs Unix: signals Windows has not (SIGHUP, SIGUSR1), UNIX sockets, a POSIX shell. */
export function unixOnly(reason: string, platform: NodeJS.Platform = process.platform): string | false {
  return platform !== 'win32' ? false : `needs Unix: ${reason} (this is ${platform})`;
}

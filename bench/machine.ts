// Facts about the machine and the software measured, printed with every result.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release } from 'node:os';

/** The version a tool prints, cut to "name x.y.z" by `pattern` (its first group is the version). */
function version(command: string, args: readonly string[], pattern: RegExp): string {
  try {
    // stunnel prints its version on stderr: merge both streams.
    const out = execFileSync('sh', ['-c', `${command} ${args.join(' ')} 2>&1`], { encoding: 'utf8' });
    return pattern.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** The 1, 5 and 15-minute load averages, as `uptime` shows them. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export interface MachineFacts {
  readonly nproc: number;
  readonly cpu: string;
  readonly kernel: string;
  readonly node: string;
  readonly nodeOpenssl: string;
  readonly systemOpenssl: string;
  readonly go: string;
  readonly stunnel: string;
  readonly haproxy: string;
  readonly loadAverage: string;
}

export function machineFacts(): MachineFacts {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: `Linux ${release()}`,
    node: process.version,
    nodeOpenssl: process.versions.openssl ?? 'unknown',
    systemOpenssl: version('openssl', ['version'], /OpenSSL (\S+)/),
    go: version('go', ['version'], /go version go(\S+)/),
    stunnel: version('stunnel4', ['-version'], /stunnel (\S+)/),
    haproxy: version('haproxy', ['-v'], /HAProxy version (\S+)/),
    loadAverage: loadAverage(),
  };
}

// Facts about the machine and the software measured, printed with every result.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release } from 'node:os';

function firstLine(command: string, args: readonly string[]): string {
  try {
    // stunnel prints its version on stderr; merge both streams and keep the line naming it.
    const out = execFileSync('sh', ['-c', `${command} ${args.join(' ')} 2>&1`], { encoding: 'utf8' });
    return out.split('\n').find((l) => /\d+\.\d+/.test(l) && !/inetd/.test(l))?.trim() ?? 'unknown';
  } catch {
    return 'not installed';
  }
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
    systemOpenssl: firstLine('openssl', ['version']),
    go: firstLine('go', ['version']),
    stunnel: firstLine('stunnel4', ['-version']),
    haproxy: firstLine('haproxy', ['-v']),
    loadAverage: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

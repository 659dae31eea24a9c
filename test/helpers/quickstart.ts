// Runs what `ghostunnel quickstart` prints, exactly as printed.
import { spawn } from 'node:child_process';
import type { Daemon } from './daemon.ts';

/** The printed command that starts with `start` (two-space indent, trailing comment removed). */
export async function printed(gt: Pick<Daemon, 'waitForLog'>, start: string): Promise<string> {
  const line = await gt.waitForLog(new RegExp(`^ {2}${start.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  return line.msg.trim().replace(/\s+# .*$/, '');
}

/** Runs a printed `openssl s_client` command, types a line and resolves with what came back. */
export function typeLine(command: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // exec: the shell becomes openssl, so that kill() ends the connection.
    const child = spawn('sh', ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes(`${line}\n`)) {
        child.kill();
        resolve(out);
      }
    });
    child.on('exit', (code) => reject(new Error(`openssl exited (${code}) before the echo: ${out}`)));
    child.stdin.write(`${line}\n`);
  });
}

// The README's first command, on a machine whose system Node.js is 20: `npm ci && npm start` in a
// fresh checkout brings up a tunnel that the printed command reaches, until Ctrl-C. Run in a copy
// of the working tree (its node_modules linked to this one, which CI makes with `npm ci` in a
// fresh clone), with only the system's node and npm on PATH.
import assert from 'node:assert/strict';
import { exec, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { copyOfWorkingTree, REPO } from '../helpers/package-install.ts';
import { tempDir } from '../helpers/pki.ts';
import { requireProgram } from '../helpers/programs.ts';

const sh = promisify(exec);
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

describe('README quick start', () => {
  it('npm start with the system Node.js: the printed curl command reaches the tunnel; Ctrl-C stops it', async (t) => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const firstCommand = /```sh\n([^\n]*)\n/.exec(readme)?.[1];
    assert.equal(firstCommand, 'npm ci && npm start');
    requireProgram('curl');
    const systemNode = execFileSync('node', ['--version'], { env: { PATH: SYSTEM_PATH }, encoding: 'utf8' }).trim();

    const root = tempDir('gt-npm-start-');
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const tree = copyOfWorkingTree(join(root, 'tree'));
    // detached: its own process group, so that SIGINT reaches npm and everything under it, as Ctrl-C does.
    const npm = spawn('npm', ['start', '--', '--dir', join(root, 'demo'), '--listen', '127.0.0.1:0', '--status-addr', '127.0.0.1:0'], {
      cwd: tree,
      env: { ...process.env, PATH: SYSTEM_PATH },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, 'SIGKILL');
    });
    let out = '';
    let err = '';
    npm.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const curl = await new Promise<string>((resolve, reject) => {
      npm.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const line = /^ {2}(curl --cacert [^\n]*?)(\s+# [^\n]*)?\n/m.exec(out);
        if (line) resolve(line[1]!);
      });
      npm.once('exit', (code) => reject(new Error(`npm start exited (${code}) before printing the command (system ${systemNode}):\n${out}\n${err}`)));
    });
    try {
      const { stdout } = await sh(curl);
      assert.match(stdout, /^ghostunnel quickstart: the backend behind the tunnel received\n\nGET \/ HTTP\/1\.1\n/);
      const statusCommand = /^ {2}(curl http:\/\/\S+\/_status)$/m.exec(out)![1]!;
      const status = JSON.parse((await sh(statusCommand)).stdout) as { ok: boolean; compiler: string };
      assert.equal(status.ok, true);
      assert.equal(status.compiler, `node${process.versions.node}`, `the daemon runs on the project's Node.js, not the system's ${systemNode}`);
    } finally {
      process.kill(-npm.pid!, 'SIGINT');
    }
    const [code, signal] = (await once(npm, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.match(out, /"msg":"received SIGINT, shutting down"/);
    // ghostunnel drained and exited 0; npm itself ends as a shell would show Ctrl-C, by the signal.
    assert.match(out, /"msg":"drain complete, exiting"/);
    assert.ok(code === 0 || signal === 'SIGINT', `npm start after Ctrl-C: ${code ?? signal}\n${err}`);
  });
});

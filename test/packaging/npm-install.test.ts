// The project's own `npm ci`, as a newcomer runs it with the machine's Node.js (Debian's is 20):
// no warning to wonder about. package.json's devEngines (Node.js 20 or later to work on the
// project) stops npm from holding the package's engines (22.12, for users) against the checkout,
// and allowScripts approves or denies every dependency's install script.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../helpers/package-install.ts';
import { tempDir } from '../helpers/pki.ts';

/** The system's node and npm first, as on a machine where nothing has been set up. */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

function npm(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, PATH: SYSTEM_PATH, npm_config_update_notifier: 'false' } });
}

describe('npm ci of the checkout', () => {
  it('under the system Node.js: no EBADENGINE or other warning (dry run of the same install)', () => {
    const dir = tempDir('gt-npm-ci-');
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(REPO, f), join(dir, f));
    const r = npm(['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^add typescript /m, 'the dry run resolved the lockfile');
    assert.deepEqual(r.stderr.split('\n').filter((l) => /\bwarn\b/i.test(l)), []);
  });

  it('allowScripts covers every installed dependency that has an install script', () => {
    const r = npm(['install-scripts', 'ls', '--json'], REPO);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { allowScripts: [] });
  });
});

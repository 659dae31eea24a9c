// What the watcher and the poller look at: the directories where rotations show up, and whether
// the content of the watched files changed.
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { WatchedFiles } from '../../src/reload/watched-files.ts';
import { issue, makeCa, tempDir, type Issued } from '../helpers/pki.ts';
import { certbotLayout, kubernetesLayout } from '../helpers/rotation.ts';

describe('WatchedFiles', () => {
  let v1: Issued, v2: Issued;
  before(() => {
    const ca = makeCa();
    v1 = issue(ca, 'v1', { cn: 'localhost' });
    v2 = issue(ca, 'v2', { cn: 'localhost' });
  });

  it('Kubernetes: watches the volume and the current timestamped directory, and follows the swap', async () => {
    const dir = tempDir('gt-wf-');
    const files = kubernetesLayout(dir, v1);
    const watched = new WatchedFiles([files.cert, files.key]);
    assert.deepEqual([...watched.directories()].sort(), [dir, join(dir, '..2026_11_23_00_00_00.1')]);
    await files.rotate(v2);
    assert.equal(watched.changed(false), true, 'a symlink swap changes the stat, so even the poller sees it');
    assert.equal(watched.changed(true), false, 'reported once');
    assert.deepEqual([...watched.directories()].sort(), [dir, join(dir, '..2026_11_23_00_00_00.2')]);
  });

  it('certbot: watches live/NAME and archive/NAME', () => {
    const dir = tempDir('gt-wf-');
    const files = certbotLayout(dir, v1);
    const watched = new WatchedFiles([files.cert, files.key]);
    assert.deepEqual([...watched.directories()].sort(), [join(dir, 'archive', 'example'), join(dir, 'live', 'example')]);
  });

  it('a touch, or a neighbour changing, is no change; new content is', () => {
    const dir = tempDir('gt-wf-');
    const cert = join(dir, 'server.crt');
    writeFileSync(cert, 'one');
    const watched = new WatchedFiles([cert]);
    utimesSync(cert, new Date(), new Date(Date.now() + 5000));
    writeFileSync(join(dir, 'neighbour'), 'x');
    assert.equal(watched.changed(false), false);
    assert.equal(watched.changed(true), false);
    writeFileSync(cert, 'two');
    assert.equal(watched.changed(false), true);
  });

  it('a file rewritten within the same timestamp (coarse mtime) is still seen by the poller', () => {
    const dir = tempDir('gt-wf-');
    const cert = join(dir, 'server.crt');
    writeFileSync(cert, 'one');
    const stamp = new Date(Math.floor(Date.now() / 1000) * 1000);
    utimesSync(cert, stamp, stamp);
    const watched = new WatchedFiles([cert]);
    writeFileSync(cert, 'two');
    utimesSync(cert, stamp, stamp);
    assert.equal(watched.changed(false), true);
  });

  it('a directory (a policy bundle tree) changes when a file inside does; its subdirectories are watched', () => {
    const dir = tempDir('gt-wf-');
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'policy'), { recursive: true });
    writeFileSync(join(bundle, 'policy', 'policy.wasm'), 'v1');
    const watched = new WatchedFiles([bundle]);
    assert.deepEqual([...watched.directories()].sort(), [dir, bundle, join(bundle, 'policy')]);
    writeFileSync(join(bundle, 'policy', 'policy.wasm'), 'v2');
    assert.equal(watched.changed(false), true);
  });
});

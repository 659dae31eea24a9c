// Preloaded into the daemon by test/packaging/package.test.ts: once the tunnel listens (the
// milestone src/startup.ts publishes), writes on stderr what the process has loaded: Node's
// built-in modules, the packages required from node_modules, and the native libraries mapped.
'use strict';
const { subscribe } = require('node:diagnostics_channel');
const { readFileSync, writeSync } = require('node:fs');

const milestones = [];
subscribe('ghostunnel:startup', (milestone) => {
  milestones.push(milestone);
  if (milestone !== 'listening') return;
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  const packages = [...new Set(Object.keys(require.cache).map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1]).filter(Boolean))];
  const natives = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5]).filter((p) => p && p.endsWith('.node')))];
  writeSync(2, `loaded-modules ${JSON.stringify({ milestones, sandboxed: process.permission !== undefined, builtins, packages, natives })}\n`);
});

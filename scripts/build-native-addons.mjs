// install: builds the native code against the headers of the Node.js the project runs on (the
// `node` devDependency, whose package ships its include/ directory), not the headers of whatever
// Node.js the machine's npm config names in `nodedir` (often the system's older one):
// - the data plane, native/ (binding.gyp), which links against that Node.js's OpenSSL;
// - pkcs11js, a Node-API addon whose install-time build may have used the other headers. Without
//   the runtime's headers (an install that pruned them) its own build is kept: the Node-API binary
//   interface does not change between Node.js versions, so that build loads too.
// The compilers' output goes to a log that is shown only when a build fails: a successful install
// prints no gyp chatter and no warnings from third-party C++ a newcomer could do nothing about
// (compiler warnings in our own native/ are still shown: they are ours to fix).
// Plain JavaScript: npm may run it with any Node.js.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = ['pkcs11js'];

function log(msg) {
  process.stdout.write(`build-native-addons: ${msg}\n`);
}

/** node_modules/node/node_modules/node-<platform>-<arch>, the package holding bin/node and include/node. */
function runtimeHeaders() {
  const nodePkg = join(root, 'node_modules', 'node');
  if (!existsSync(join(nodePkg, 'package.json'))) return undefined;
  const version = JSON.parse(readFileSync(join(nodePkg, 'package.json'), 'utf8')).version;
  const inner = join(nodePkg, 'node_modules');
  const candidates = existsSync(inner) ? readdirSync(inner).filter((d) => d.startsWith('node-')) : [];
  for (const dir of candidates) {
    const headers = join(inner, dir);
    const versionHeader = join(headers, 'include', 'node', 'node_version.h');
    if (!existsSync(versionHeader)) continue;
    const text = readFileSync(versionHeader, 'utf8');
    const part = (name) => text.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))?.[1];
    if (`${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}` === version) return { headers, version };
  }
  return undefined;
}

/** Runs a build step with its output in a log, returned; on failure prints the log and fails the install. */
function quietly(command, args, options) {
  const dir = mkdtempSync(join(tmpdir(), 'ghostunnel-build-'));
  const logPath = join(dir, 'build.log');
  const log = openSync(logPath, 'w');
  try {
    execFileSync(command, args, { ...options, stdio: ['ignore', log, log] });
  } catch (err) {
    closeSync(log);
    process.stderr.write(readFileSync(logPath, 'utf8'));
    process.stderr.write(`build-native-addons: ${[command, ...args].join(' ')} failed (its output is above)\n`);
    throw err;
  }
  closeSync(log);
  const output = readFileSync(logPath, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return output;
}

function builtWith(addon) {
  const config = join(root, 'node_modules', addon, 'build', 'config.gypi');
  if (!existsSync(config)) return undefined;
  return readFileSync(config, 'utf8').match(/"nodedir": "([^"]*)"/)?.[1];
}

/** node-gyp as npm runs it for install scripts; else the copy inside npm itself. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const npm = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  return join(npm, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}

const runtime = runtimeHeaders();
const nodeBin = join(root, 'node_modules', 'node', 'bin', 'node');
const probe = existsSync(nodeBin) ? nodeBin : process.execPath;

log(`building the data plane (native/) against Node.js ${runtime?.version ?? process.version}`);
const dataPlane = quietly(probe, [nodeGyp(), 'rebuild', ...(runtime ? [`--nodedir=${runtime.headers}`] : [])], { cwd: root });
for (const line of dataPlane.split('\n')) if (/native\/.*warning:/.test(line)) process.stderr.write(`${line}\n`);
execFileSync(probe, ['-e', `require(${JSON.stringify(join(root, 'build', 'Release', 'ghostunnel_engine.node'))})`], { stdio: 'inherit' });

for (const addon of ADDONS) {
  if (!existsSync(join(root, 'node_modules', addon, 'package.json'))) continue;
  if (runtime === undefined) {
    log(`headers of the project's Node.js not found; keeping the ${addon} build made during the install`);
  } else if (builtWith(addon) === runtime.headers) {
    log(`${addon} is built against Node.js ${runtime.version}`);
  } else {
    log(`building ${addon} against Node.js ${runtime.version} (${runtime.headers})`);
    quietly('npm', ['rebuild', addon, `--nodedir=${runtime.headers}`, '--foreground-scripts'], { cwd: root });
  }
  // The addon must load in the Node.js that runs the daemon.
  execFileSync(probe, ['-e', `require(${JSON.stringify(createRequire(join(root, 'package.json')).resolve(addon))})`], { stdio: 'inherit' });
}

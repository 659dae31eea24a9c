// install: builds the native code against the headers of the Node.js the project runs on (the
// `node` devDependency, whose package ships its include/ directory), not the headers of whatever
// Node.js the machine's npm config names in `nodedir` (often the system's older one):
// - the data plane, native/ (binding.gyp), which links against that Node.js's OpenSSL;
// - pkcs11js, a Node-API addon whose install-time build may have used the other headers. Without
//   the runtime's headers (an install that pruned them) its own build is kept: the Node-API binary
//   interface does not change between Node.js versions, so that build loads too.
// Both are optional, so an install never fails for want of a compiler: off Linux, without python3,
// make and a C++ compiler, or when the compile fails (its output is shown), the install goes on
// with one line saying that the portable data plane (Node's tls) will serve, and pkcs11js is left
// to npm (an optional dependency: npm leaves it out when its own build fails). `npm run build:native`
// is the explicit build: any failure fails it.
// The compilers' output goes to a log that is shown only when a build fails: a successful install
// prints no gyp chatter and no warnings from third-party C++ a newcomer could do nothing about
// (compiler warnings in our own native/ are still shown: they are ours to fix).
// Plain JavaScript: npm may run it with any Node.js.
import { execFileSync, spawnSync } from 'node:child_process';
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

/** Runs a build step with its output in a log, returned; on failure prints the log and throws. */
function quietly(command, args, options) {
  const dir = mkdtempSync(join(tmpdir(), 'ghostunnel-build-'));
  const logPath = join(dir, 'build.log');
  const out = openSync(logPath, 'w');
  let error;
  try {
    execFileSync(command, args, { ...options, stdio: ['ignore', out, out] });
  } catch (err) {
    error = err;
  }
  closeSync(out);
  const output = readFileSync(logPath, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  if (error === undefined) return output;
  process.stderr.write(`${output}build-native-addons: ${[command, ...args].join(' ')} failed (its output is above)\n`);
  throw error;
}

/** Why node-gyp cannot build here (no python3, make or working C++ compiler), or undefined. */
function missingToolchain() {
  const runs = (command, args) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
  const python = process.env.npm_config_python || process.env.PYTHON || 'python3';
  if (!runs(python, ['--version'])) return `${python} not found`;
  if (!runs('make', ['--version'])) return 'make not found';
  // What the Makefile node-gyp writes compiles C++ with: $CXX, else make's default g++.
  const cxx = process.env.CXX || 'g++';
  const dir = mkdtempSync(join(tmpdir(), 'ghostunnel-cxx-'));
  try {
    const probe = spawnSync('/bin/sh', ['-c', `${cxx} -x c++ -c -o "$0" -`, join(dir, 'probe.o')], { input: 'int main() { return 0; }\n', stdio: ['pipe', 'ignore', 'ignore'] });
    return probe.status === 0 ? undefined : `${cxx} cannot compile C++`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The explicit build stops at the first failure; the install goes on without what failed. */
const explicit = process.env.npm_lifecycle_event !== 'install';
const HOW = 'install python3, make and a C++ compiler, then run `npm run build:native` (and install ghostunnel-ts again for PKCS#11)';

function unavailable(why) {
  if (explicit) {
    process.stderr.write(`build-native-addons: ${why}\n`);
    process.exit(1);
  }
  log(`the portable data plane will be used: ${why}`);
}

const runtime = runtimeHeaders();
const nodeBin = join(root, 'node_modules', 'node', 'bin', 'node');
const probe = existsSync(nodeBin) ? nodeBin : process.execPath;
const missing = process.platform === 'linux' ? missingToolchain() : undefined;

if (process.platform !== 'linux') unavailable(`the native data plane runs on Linux only (this is ${process.platform})`);
else if (missing !== undefined) unavailable(`no C++ toolchain for the native data plane (${missing}); ${HOW}`);
else {
  log(`building the data plane (native/) against Node.js ${runtime?.version ?? process.version}`);
  try {
    // npm passes a `nodedir` from the user's config in the environment, where node-gyp takes it over
    // the flag: both name the runtime's headers.
    const env = runtime ? { ...process.env, npm_config_nodedir: runtime.headers } : process.env;
    const output = quietly(probe, [nodeGyp(), 'rebuild', ...(runtime ? [`--nodedir=${runtime.headers}`] : [])], { cwd: root, env });
    for (const line of output.split('\n')) if (/native\/.*warning:/.test(line)) process.stderr.write(`${line}\n`);
    execFileSync(probe, ['-e', `require(${JSON.stringify(join(root, 'build', 'Release', 'ghostunnel_engine.node'))})`], { stdio: 'inherit' });
  } catch {
    unavailable('the native data plane did not build (the output above says why); fix that and run `npm run build:native`');
  }

  for (const addon of ADDONS) {
    try {
      buildAddon(addon);
    } catch (err) {
      if (explicit) throw err;
      log(`${addon} did not build against Node.js ${runtime?.version ?? process.version} (the output above says why): PKCS#11 may not work; \`npm run build:native\` tries again`);
    }
  }
}

function buildAddon(addon) {
  if (!existsSync(join(root, 'node_modules', addon, 'package.json'))) {
    // npm left the optional package out (its own build failed); installing it again brings it back.
    if (explicit) log(`${addon} is not installed: npm left it out, as it could not compile it then; install ghostunnel-ts again (\`npm ci\` in a checkout) for it`);
    return;
  }
  if (runtime === undefined) {
    log(`headers of the project's Node.js not found; keeping the ${addon} build made during the install`);
  } else if (builtWith(addon) === runtime.headers) {
    log(`${addon} is built against Node.js ${runtime.version}`);
  } else {
    log(`building ${addon} against Node.js ${runtime.version} (${runtime.headers})`);
    quietly('npm', ['rebuild', addon, `--nodedir=${runtime.headers}`, '--foreground-scripts'], { cwd: root, env: { ...process.env, npm_config_nodedir: runtime.headers } });
  }
  // The addon must load in the Node.js that runs the daemon.
  execFileSync(probe, ['-e', `require(${JSON.stringify(createRequire(join(root, 'package.json')).resolve(addon))})`], { stdio: 'inherit' });
}

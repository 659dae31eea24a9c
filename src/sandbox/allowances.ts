// What the sandboxed daemon may do (spec §2.20, Ghostunnel's Landlock rules, as Node's permission
// model can express them): read its own code, the files the configuration names and their
// directories; write only where a feature must; load addons, start workers and child processes
// only when something it runs needs them.
import { existsSync, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import type { Address } from '../net/address.ts';
import type { Config } from '../config/types.ts';
import { AcmeStorage } from '../credentials/acme/acme-storage.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import { system as thisSystem, type System } from '../sys/platform.ts';

export interface SandboxAllowances {
  /** Files and directories (a directory covers everything under it) the process may read. */
  readonly read: readonly string[];
  readonly write: readonly string[];
  /**
   * Directories the daemon fills itself (the ACME storage): made before the sandbox is entered,
   * since Node leaves a path that does not exist out of the allowed set.
   */
  readonly created: readonly string[];
  /**
   * Native addons, where the platform loads them: the native data plane, whose addon also serves
   * descriptor duplication, UNIX sockets and sd_notify (koffi instead when the plane is not loaded).
   */
  readonly addons: boolean;
  /** Worker threads: the OPA evaluators. */
  readonly workers: boolean;
  /** Child processes: the SIGUSR2 hand-off's successor, and `opa build`. */
  readonly childProcesses: boolean;
  /**
   * The inspector: --enable-pprof's CPU profiles and heap snapshots, and SIGUSR1, Ghostunnel's
   * reload signal, which Node.js delivers to the process only when the inspector is allowed.
   */
  readonly inspector: boolean;
}

/** Files the configuration does not hold but the process reads: the --config file, @argument files. */
export interface ExtraInputs {
  readonly configFile?: string;
  readonly argsFiles: readonly string[];
}

const MAX_SYMLINK_HOPS = 40;

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Where this program's modules are loaded from: the package, and every node_modules directory
 * Node searches from it (a global install or a workspace hoists dependencies upwards), each also
 * by its real path, since the loader checks the resolved file.
 */
function codeLocations(env: NodeJS.ProcessEnv): string[] {
  const searched = createRequire(join(PACKAGE_ROOT, 'package.json')).resolve.paths('koffi') ?? [];
  const nodePath = (env.NODE_PATH ?? '').split(delimiter).filter((p) => p !== '');
  return [PACKAGE_ROOT, ...searched, ...nodePath].filter((p) => existsSync(p)).flatMap((p) => [resolve(p), realpathOrSelf(p)]);
}

/**
 * The directories a file can change in: its own, the directory of every symlink on the way
 * (certbot's live/ into archive/), and the real file's (Ghostunnel adds symlink-target parents
 * too). A directory (an OPA bundle) counts as itself.
 */
function fileDirectories(path: string): string[] {
  const full = resolve(path);
  const dirs = [dirname(full)];
  let hop = full;
  for (let i = 0; i < MAX_SYMLINK_HOPS; i++) {
    try {
      if (!lstatSync(hop).isSymbolicLink()) break;
      hop = resolve(dirname(hop), readlinkSync(hop));
    } catch {
      break;
    }
    dirs.push(dirname(hop));
  }
  const real = realpathOrSelf(full);
  dirs.push(dirname(real));
  try {
    if (statSync(real).isDirectory()) dirs.push(full, real);
  } catch {
    // Missing now: its directory is allowed, so it may appear later.
  }
  return dirs;
}

function unixDirectory(address: Address | undefined): string[] {
  return address?.kind === 'unix' ? [dirname(resolve(address.path))] : [];
}

function policyBundles(config: Config): string[] {
  const rules = config.client !== undefined ? config.client.verify : config.clientAuth.kind === 'rules' ? config.clientAuth.rules : undefined;
  return rules?.policy === undefined ? [] : [rules.policy.bundle];
}

/** Where `opa build` may be found (only the `opa` file in each PATH directory) and where it works. */
function opaBuild(env: NodeJS.ProcessEnv): { read: string[]; write: string[] } {
  const candidates = (env.PATH ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(resolve(d), 'opa'));
  const scratch = join(tmpdir(), 'ghostunnel-opa-*');
  return { read: [...candidates, scratch], write: [scratch] };
}

/** The files the configuration names: credentials, policy bundles, the --config file. */
export function namedFiles(config: Config, extra: ExtraInputs): string[] {
  const { keystore, cert, key, cacert } = config.credentials;
  return [keystore, cert, key, cacert, ...policyBundles(config), extra.configFile].filter((p): p is string => p !== undefined && p !== '');
}

/**
 * The paths without those an ancestor in the list already covers. Besides being shorter, this
 * works around Node.js 24, which denies a granted directory itself (not its contents) when a
 * path inside it was granted first.
 */
export function withoutCovered(paths: readonly string[], separator = sep): string[] {
  const kept: string[] = [];
  for (const p of [...new Set(paths)].sort((a, b) => a.length - b.length)) {
    if (!kept.some((k) => p === k || p.startsWith(k.endsWith(separator) ? k : `${k}${separator}`))) kept.push(p);
  }
  return kept;
}

export function sandboxAllowances(config: Config, extra: ExtraInputs, env: NodeJS.ProcessEnv = process.env, system: System = thisSystem): SandboxAllowances {
  const policies = policyBundles(config);
  const read = [...codeLocations(env), ...namedFiles(config, extra).flatMap(fileDirectories), ...extra.argsFiles.map((p) => resolve(p))];
  const write: string[] = [];
  const created: string[] = [];
  // The system trust store, where the environment moves it (OpenSSL reads it natively; Node's own reads are covered too).
  for (const name of ['SSL_CERT_FILE', 'SSL_CERT_DIR']) for (const p of (env[name] ?? '').split(delimiter).filter((p) => p !== '')) read.push(resolve(p));
  // prom-client's process metrics and the status diagnostics (the same pid after the re-exec).
  read.push(...system.processFiles(process.pid));
  // Whether a reusePort successor would get the connections queued at shutdown (a start-up warning).
  if (config.listen.kind === 'tcp') read.push(...system.acceptQueueFiles);
  // UNIX sockets: ours are unlinked on close; the target and status directories as in Ghostunnel.
  const sockets = [config.listen, config.target, config.status?.address].flatMap(unixDirectory);
  read.push(...sockets);
  write.push(...sockets);
  if (config.acme !== undefined) {
    const { root } = new AcmeStorage(config.acme.directoryUrl, env);
    read.push(root);
    write.push(root);
    created.push(root);
  }
  if (policies.length > 0) {
    const opa = opaBuild(env);
    // An evaluator thread finds its own id there, to lower its priority (policy-worker.ts).
    read.push(...opa.read, ...system.threadFiles);
    write.push(...opa.write);
  }
  return {
    read: withoutCovered(read),
    write: withoutCovered(write),
    created,
    addons: system.addons,
    workers: policies.length > 0 || config.lifecycle.workers > 1,
    childProcesses: true,
    inspector: true,
  };
}

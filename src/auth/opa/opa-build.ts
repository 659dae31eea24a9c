import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Longest an `opa build` may take before the load counts as failed. */
const BUILD_TIMEOUT_MS = 120_000;

function opaOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'opa');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The `opa build` arguments that turn Rego source (a .rego file, or a bundle) into a wasm bundle. */
function buildArgs(source: string, entrypoint: string, out: string): string[] {
  // Ghostunnel reads a lone .rego file as Rego v0, and a bundle by its manifest's rego_version.
  const input = source.endsWith('.rego') ? ['--v0-compatible', source] : ['-b', source];
  return ['build', '-t', 'wasm', '-e', entrypoint, '-o', out, ...input];
}

/** The exact command that makes a loadable bundle, for error messages. */
export function buildHint(source: string, entrypoint: string): string {
  return `opa ${buildArgs(source, entrypoint, 'bundle.tar.gz').join(' ')}`;
}

/** Why `opa build` failed: OPA prints the reason (a Rego parse error, say) on standard output, not standard error. */
function buildFailure(err: unknown): string {
  const e = err as Error & { stdout?: string; stderr?: string; killed?: boolean };
  if (e.killed === true) return `it did not finish within ${BUILD_TIMEOUT_MS / 1000}s`;
  const said = [e.stdout, e.stderr].map((text) => text?.trim() ?? '').filter((text) => text !== '');
  return said.length > 0 ? said.join('\n') : e.message.trim();
}

/**
 * Compiles Rego source to a wasm bundle with the `opa` CLI when one is on PATH; returns the
 * bundle's bytes (.tar.gz). Without an `opa` binary it throws, naming the command to run.
 */
export async function compileWithOpa(source: string, entrypoint: string, why: string): Promise<Buffer> {
  const opa = opaOnPath();
  if (opa === undefined) {
    throw new Error(`${why}, and no "opa" binary is on PATH to compile it; build a wasm bundle with \`${buildHint(source, entrypoint)}\` and pass bundle.tar.gz instead`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'ghostunnel-opa-'));
  const out = join(dir, 'bundle.tar.gz');
  try {
    await run(opa, buildArgs(source, entrypoint, out), { timeout: BUILD_TIMEOUT_MS });
    return readFileSync(out);
  } catch (err) {
    throw new Error(`${why}; compiling it with \`${opa} ${buildArgs(source, entrypoint, out).join(' ')}\` failed: ${buildFailure(err)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

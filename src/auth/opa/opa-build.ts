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
    const e = err as Error & { stderr?: string };
    throw new Error(`${why}; compiling it with \`${opa} ${buildArgs(source, entrypoint, out).join(' ')}\` failed: ${(e.stderr || e.message).trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { compileWithOpa } from './opa-build.ts';

/** What opa-wasm needs from a bundle. */
export interface PolicyBundle {
  readonly wasm: Uint8Array;
  /** The data document as JSON text; undefined when the bundle has none. */
  readonly data: Uint8Array | undefined;
  /** SHA-256 of what was read from disk: equal digests mean the bundle did not change. */
  readonly digest: string;
}

type Files = Map<string, Uint8Array>;

/** Bundle paths without the "/" or "./" that some tar writers put in front. */
function bundlePath(name: string): string {
  return posix.normalize(name.replace(/\\/g, '/')).replace(/^(\.?\/)+/, '');
}

async function untar(gzipped: Uint8Array): Promise<Files> {
  if (gzipped.length === 0) throw new Error('the file is empty (0 bytes), not a .tar.gz bundle');
  let tar: Buffer;
  try {
    tar = gunzipSync(gzipped);
  } catch (err) {
    throw new Error(`not a gzip-compressed tar bundle: ${(err as Error).message}`);
  }
  const files: Files = new Map();
  const archive = extract();
  archive.end(tar);
  try {
    for await (const entry of archive) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.type === 'file' || entry.header.type === 'contiguous-file') files.set(bundlePath(entry.header.name), Buffer.concat(chunks));
    }
  } catch (err) {
    throw new Error(`not a readable tar bundle: ${(err as Error).message}`);
  }
  return files;
}

async function readDirectory(dir: string): Promise<Files> {
  const files: Files = new Map();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries.filter((e) => e.isFile()).sort((a, b) => join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)))) {
    const full = join(entry.parentPath, entry.name);
    files.set(bundlePath(relative(dir, full)), await readFile(full));
  }
  return files;
}

function digestOf(files: Files): string {
  const hash = createHash('sha256');
  for (const [name, bytes] of files) hash.update(name).update('\0').update(bytes).update('\0');
  return hash.digest('hex');
}

/** The module the manifest names for the entrypoint, else the one `opa build` writes. */
function wasmPath(files: Files, entrypoint: string): string {
  const manifest = files.get('.manifest');
  if (manifest === undefined) return 'policy.wasm';
  let modules: Array<{ entrypoint?: string; module?: string }> = [];
  try {
    modules = (JSON.parse(Buffer.from(manifest).toString('utf8')) as { wasm?: typeof modules }).wasm ?? [];
  } catch (err) {
    throw new Error(`.manifest is not valid JSON: ${(err as Error).message}`);
  }
  const module = modules.find((m) => m.entrypoint === entrypoint)?.module ?? modules[0]?.module;
  return module === undefined ? 'policy.wasm' : bundlePath(module);
}

const { rawJSON } = JSON as unknown as { rawJSON(text: string): object };

/** JSON.parse that keeps every number as its source text (big integers stay exact). */
function parseExact(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => (typeof value === 'number' && context?.source !== undefined ? rawJSON(context.source) : value));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Deep-merges `value` into `target[key]`: objects merge, anything else must not collide. */
function merge(target: Record<string, unknown>, key: string, value: unknown, where: string): void {
  const existing = target[key];
  if (existing === undefined) {
    target[key] = value;
    return;
  }
  if (!isPlainObject(existing) || !isPlainObject(value)) throw new Error(`data files conflict at ${where}`);
  for (const [k, v] of Object.entries(value)) merge(existing, k, v, `${where}.${k}`);
}

/**
 * The data document: data.json as it is when the bundle has only that one (the usual `opa build`
 * output), else every **\/data.json merged at its directory's path, as OPA lays out bundle data.
 */
function dataDocument(files: Files): Uint8Array | undefined {
  const dataFiles = [...files.keys()].filter((name) => name === 'data.json' || name.endsWith('/data.json'));
  const parsed = dataFiles.map((name) => {
    try {
      return { name, value: parseExact(Buffer.from(files.get(name)!).toString('utf8')) };
    } catch (err) {
      throw new Error(`${name} is not valid JSON: ${(err as Error).message}`);
    }
  });
  if (parsed.length === 0) return undefined;
  if (parsed.length === 1 && parsed[0]!.name === 'data.json') return files.get('data.json');
  const root: Record<string, unknown> = {};
  for (const { name, value } of parsed) {
    const wrapped = name.split('/').slice(0, -1).reduceRight<unknown>((inner, dir) => ({ [dir]: inner }), value);
    merge(root, 'data', wrapped, 'data');
  }
  return Buffer.from(JSON.stringify(root.data));
}

/**
 * Reads a policy for opa-wasm: a .tar.gz bundle (as `opa build -t wasm` makes), a bundle
 * directory, or Rego source (a .rego file, or a bundle without policy.wasm), which is compiled with
 * the `opa` CLI when one is on PATH. Returns 'unchanged' when the digest equals `current`.
 * Throws with a message that says what is wrong with the file and how to fix it.
 */
export async function readPolicyBundle(path: string, entrypoint: string, current?: string): Promise<PolicyBundle | 'unchanged'> {
  const info = await stat(path);
  const isDirectory = info.isDirectory();
  const raw = isDirectory ? await readDirectory(path) : await readFile(path);
  const digest = raw instanceof Map ? digestOf(raw) : createHash('sha256').update(raw).digest('hex');
  if (digest === current) return 'unchanged';
  let files: Files;
  if (path.endsWith('.rego') && !isDirectory) files = await untar(await compileWithOpa(path, entrypoint, `${path} is Rego source`));
  else files = raw instanceof Map ? raw : await untar(raw);
  let wasm = files.get(wasmPath(files, entrypoint));
  if (wasm === undefined) {
    files = await untar(await compileWithOpa(path, entrypoint, 'the bundle has no policy.wasm (it holds Rego source only)'));
    wasm = files.get(wasmPath(files, entrypoint));
    if (wasm === undefined) throw new Error('`opa build` made a bundle without policy.wasm');
  }
  return { wasm, data: dataDocument(files), digest };
}

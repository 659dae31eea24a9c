// A stand-in for the `opa` CLI, for tests of Rego sources that the daemon compiles with
// `opa build` (src/auth/opa/opa-build.ts): a shell script on PATH that answers the same command
// line with a real wasm bundle. The bundle's policy.wasm is written here, byte by byte: the
// smallest module that speaks OPA's WebAssembly ABI 1.2 as opa-wasm calls it, whose one
// entrypoint answers the same decision for every input.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Unsigned LEB128 (sizes, counts, indices). */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32.const operands). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (text: string): number[] => [...uleb(Buffer.byteLength(text)), ...Buffer.from(text)];
const I32 = 0x7f;
const I32_CONST = 0x41;
const END = 0x0b;

/** Where the module keeps its constant JSON texts, and where its bump allocator starts. */
const BUILTINS_AT = 8;
const ENTRYPOINTS_AT = 16;
const RESULT_AT = 256;
const HEAP_AT = 4096;

/**
 * policy.wasm with one entrypoint (`policy/allow` for the query data.policy.allow) whose result
 * set is `[{"result": <allowed>}]` whatever the input. Values are their JSON text's address, so
 * opa_json_dump is the identity; data and input are accepted and ignored.
 */
export function constantPolicyWasm(entrypoint: string, allowed: boolean): Buffer {
  const types = [
    [0x60, 0, 1, I32], // 0: () -> i32
    [0x60, 1, I32, 1, I32], // 1: (i32) -> i32
    [0x60, 2, I32, I32, 1, I32], // 2: (i32, i32) -> i32
    [0x60, 1, I32, 0], // 3: (i32) -> ()
    [0x60, 7, I32, I32, I32, I32, I32, I32, I32, 1, I32], // 4: opa_eval's signature
  ];
  const functions: Array<{ name: string; type: number; code: number[] }> = [
    { name: 'builtins', type: 0, code: [I32_CONST, ...sleb(BUILTINS_AT)] },
    { name: 'entrypoints', type: 0, code: [I32_CONST, ...sleb(ENTRYPOINTS_AT)] },
    { name: 'opa_json_dump', type: 1, code: [0x20, 0] },
    { name: 'opa_json_parse', type: 2, code: [0x20, 0] },
    // The old heap pointer is the block; the pointer moves past it.
    { name: 'opa_malloc', type: 1, code: [0x23, 0, 0x23, 0, 0x20, 0, 0x6a, 0x24, 0] },
    { name: 'opa_heap_ptr_get', type: 0, code: [0x23, 0] },
    { name: 'opa_heap_ptr_set', type: 3, code: [0x20, 0, 0x24, 0] },
    { name: 'opa_eval', type: 4, code: [I32_CONST, ...sleb(RESULT_AT)] },
  ];
  const globals = [
    [I32, 1, I32_CONST, ...sleb(HEAP_AT), END], // 0: the heap pointer
    [I32, 0, I32_CONST, 1, END], // opa_wasm_abi_version
    [I32, 0, I32_CONST, 2, END], // opa_wasm_abi_minor_version
  ];
  const exports = [
    ...functions.map((f, i) => [...name(f.name), 0x00, i]),
    [...name('opa_wasm_abi_version'), 0x03, 1],
    [...name('opa_wasm_abi_minor_version'), 0x03, 2],
  ];
  const text = (at: number, json: string): number[] => {
    const bytes = [...Buffer.from(`${json}\0`)];
    return [0, I32_CONST, ...sleb(at), END, ...uleb(bytes.length), ...bytes];
  };
  const entrypoints = JSON.stringify({ [entrypoint]: 0 });
  if (ENTRYPOINTS_AT + entrypoints.length >= RESULT_AT) throw new Error(`entrypoint name too long: ${entrypoint}`);
  return Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 1]])),
    ...section(3, vector(functions.map((f) => [f.type]))),
    ...section(6, vector(globals)),
    ...section(7, vector(exports)),
    ...section(10, vector(functions.map((f) => { const body = [0, ...f.code, END]; return [...uleb(body.length), ...body]; }))),
    ...section(11, vector([text(BUILTINS_AT, '{}'), text(ENTRYPOINTS_AT, entrypoints), text(RESULT_AT, JSON.stringify([{ result: allowed }]))])),
  ]);
}

/** A .tar.gz bundle holding that policy.wasm, as `opa build -t wasm` writes one. */
export function constantPolicyBundle(dir: string, entrypoint: string, allowed: boolean): string {
  const content = join(dir, `${allowed ? 'allow' : 'deny'}-bundle`);
  mkdirSync(content, { recursive: true });
  writeFileSync(join(content, 'policy.wasm'), constantPolicyWasm(entrypoint, allowed));
  const out = join(dir, `${allowed ? 'allow' : 'deny'}.tar.gz`);
  execFileSync('tar', ['czf', out, '-C', content, 'policy.wasm']);
  return out;
}

/**
 * Writes `opa` into `dir` (put it first on PATH): it takes `delayMs`, then answers
 * `opa build -t wasm -e ENTRYPOINT -o OUT [--v0-compatible] SOURCE` with the bundle that allows
 * when SOURCE contains `allow = true`, else with the one that denies. Returns `dir`.
 */
export function standInOpa(dir: string, entrypoint: string, delayMs: number): string {
  mkdirSync(dir, { recursive: true });
  const allow = constantPolicyBundle(dir, entrypoint, true);
  const deny = constantPolicyBundle(dir, entrypoint, false);
  const script = `#!/bin/sh
sleep ${delayMs / 1000}
out=''
while [ $# -gt 1 ]; do
  if [ "$1" = -o ]; then out=$2; fi
  shift
done
if grep -q 'allow = true' "$1"; then cp '${allow}' "$out"; else cp '${deny}' "$out"; fi
`;
  writeFileSync(join(dir, 'opa'), script);
  chmodSync(join(dir, 'opa'), 0o755);
  return dir;
}

/** Writes an `opa` into `dir` that fails as OPA does on a Rego error: the reason on standard output, exit 1. */
export function failingOpa(dir: string, reason: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'opa'), `#!/bin/sh\nprintf '%s\\n' '${reason.replace(/'/g, `'\\''`)}'\nexit 1\n`);
  chmodSync(join(dir, 'opa'), 0o755);
  return dir;
}

import { createRequire } from 'node:module';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { TIME_BUILTINS } from './time-builtins.ts';

// The package's ESM entry exports only the async loadPolicy; loadPolicySync is on its CommonJS export.
const { loadPolicySync } = createRequire(import.meta.url)('@open-policy-agent/opa-wasm') as typeof import('@open-policy-agent/opa-wasm');

/** A compiled WebAssembly.Module (TypeScript types WebAssembly only with the DOM lib, which this project leaves out). */
export type WasmModule = object;

/** Compiles policy.wasm off the main thread (V8 compiles in the background); rejects on bytes that are not WebAssembly. */
export function compileWasm(bytes: Uint8Array): Promise<WasmModule> {
  return (globalThis as unknown as { WebAssembly: { compile(b: Uint8Array): Promise<WasmModule> } }).WebAssembly.compile(bytes);
}

/** Everything an evaluator needs to instantiate one generation of a policy; it crosses to workers by postMessage. */
export interface PolicyImage {
  readonly module: WasmModule;
  /** data.json text, passed to setData as bytes so that big integers stay exact. */
  readonly data: ArrayBuffer | undefined;
  readonly entrypoint: string;
}

/** Cap on a policy's wasm linear memory (64 KiB pages): a runaway policy fails instead of eating the host. */
export const WASM_MEMORY_MAX_PAGES = 4096;

/** A thrown opa-wasm error may be a string or a {message} object rather than an Error. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String(err.message);
  return String(err);
}

/** Instantiates the policy, loads its data and checks that it answers the entrypoint; throws with a clear message. */
export function instantiatePolicy(image: PolicyImage): LoadedPolicy {
  let policy: LoadedPolicy;
  try {
    policy = loadPolicySync(image.module as Parameters<typeof loadPolicySync>[0], { initial: 5, maximum: WASM_MEMORY_MAX_PAGES }, TIME_BUILTINS);
  } catch (err) {
    throw new Error(`policy.wasm cannot be instantiated as an OPA policy: ${describeError(err)}`);
  }
  const entrypoints = Object.keys(policy.entrypoints as Record<string, number>);
  if (!entrypoints.includes(image.entrypoint)) {
    throw new Error(`policy.wasm has no entrypoint "${image.entrypoint}" (it has: ${entrypoints.join(', ') || 'none'}); rebuild it with \`opa build -t wasm -e ${image.entrypoint}\` or fix the query`);
  }
  if (image.data !== undefined) {
    try {
      policy.setData(image.data);
    } catch (err) {
      throw new Error(`data.json cannot be loaded into the policy: ${describeError(err)}`);
    }
  }
  return policy;
}

/** Ghostunnel's rule (rego.ResultSet.Allowed): exactly one result, and its value is boolean true. */
export function isAllowed(resultSet: unknown): boolean {
  return Array.isArray(resultSet) && resultSet.length === 1 && (resultSet[0] as { result?: unknown } | undefined)?.result === true;
}

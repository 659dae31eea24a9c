/**
 * Worker thread entry: evaluates one policy generation, one request at a time. A policy runs
 * synchronously and cannot be interrupted from inside, so it runs here, where the pool can
 * terminate the whole thread when it overruns its deadline without stalling the event loop.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { system } from '../../sys/platform.ts';
import { certificateInputJson } from './certificate-input.ts';
import { describeError, instantiatePolicy, isAllowed, type PolicyImage } from './compiled-policy.ts';

/** A new policy generation (every later request uses it), or a peer certificate (DER) to decide on. */
export type ToWorker = { readonly kind: 'load'; readonly image: PolicyImage } | { readonly kind: 'eval'; readonly id: number; readonly der: Uint8Array };
export type FromWorker =
  | { readonly id: number; readonly allowed: boolean }
  | { readonly id: number; readonly error: string }
  /** A line of Rego print() output: opa-wasm writes it with console.log, which must not reach the JSON log on stdout. */
  | { readonly print: string };

const port = parentPort!;
const encoder = new TextEncoder();
let image: PolicyImage | undefined;
let policy: LoadedPolicy | undefined;
let loadError = '';
console.log = (...args: unknown[]): void => port.postMessage({ print: args.join(' ') } satisfies FromWorker);

/**
 * On Linux each thread has its own nice value: an evaluator runs 10 steps below the thread that
 * serves connections, so a runaway policy (it burns a core until --connect-timeout) takes CPU time
 * from the other handshakes only when nothing else wants it (docs/opa.md, "Isolation and limits").
 * Best effort and silent: elsewhere, or when the system refuses, the thread keeps its priority.
 * Under the sandbox, the file that tells the thread its id is readable when a policy is configured.
 */
function yieldToConnections(): void {
  if (system.threadId === undefined) return;
  try {
    const tid = system.threadId();
    const nice = getPriority(tid);
    if (nice < 19) setPriority(tid, Math.min(19, nice + 10));
  } catch {
    // the id could not be read, or setpriority was refused
  }
}
yieldToConnections();

function instantiate(): void {
  try {
    policy = instantiatePolicy(image!);
  } catch (err) {
    policy = undefined;
    loadError = describeError(err);
  }
}

/** opa-wasm reads an ArrayBuffer whole, so hand it one holding exactly the JSON text. */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return (whole ? bytes.buffer : new Uint8Array(bytes).buffer) as ArrayBuffer;
}

port.on('message', (msg: ToWorker) => {
  if (msg.kind === 'load') {
    image = msg.image;
    instantiate();
    return;
  }
  let reply: FromWorker;
  try {
    if (policy === undefined) throw new Error(loadError);
    const input = exactBuffer(encoder.encode(certificateInputJson(msg.der)));
    reply = { id: msg.id, allowed: isAllowed(policy.evaluate(input, image!.entrypoint)) };
  } catch (err) {
    reply = { id: msg.id, error: describeError(err) };
    // An aborted evaluation can leave the instance's heap in any state: start the next one afresh.
    instantiate();
  }
  port.postMessage(reply);
});

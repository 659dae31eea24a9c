// Preloaded into our tunnel by bench/footprint.ts (`node --require`, kept across the sandbox's
// re-execution): reports each start-up milestone that src/startup.ts publishes, and this process
// image's own start, as one line on stderr each: the monotonic clock (comparable with the bench's
// own process.hrtime) and the main thread's CPU time, which the exec does not reset.
// Plain CommonJS with nothing but Node's own modules already loaded at start: it must not change
// what it measures.
'use strict';
const { subscribe } = require('node:diagnostics_channel');
const { readFileSync, writeSync } = require('node:fs');

/** The main thread's wait for a CPU so far (on-CPU ns, run-queue ns, slices), ms. */
function waitMs() {
  return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e6;
}

function record(phase) {
  const cpu = process.threadCpuUsage();
  const line = { phase, sandboxed: process.permission !== undefined, ns: String(process.hrtime.bigint()), cpuMs: (cpu.user + cpu.system) / 1000, waitMs: waitMs() };
  writeSync(2, `footprint-phase ${JSON.stringify(line)}\n`);
}

record('node');
subscribe('ghostunnel:startup', record);

// Two seconds after the tunnel listens (after bench/footprint-where.ts has read /proc, a second in:
// node:v8 is not loaded before), the V8 heap as V8 counts it.
subscribe('ghostunnel:startup', (phase) => {
  if (phase !== 'listening') return;
  setTimeout(() => {
    const v8 = require('node:v8');
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size]));
    const code = v8.getHeapCodeStatistics();
    writeSync(2, `footprint-heap ${JSON.stringify({ spaces, heapUsed: process.memoryUsage().heapUsed, bytecodeAndMetadata: code.bytecode_and_metadata_size, code: code.code_and_metadata_size })}\n`);
  }, 2000).unref();
});

// The log lines keep the exact format pino wrote before the daemon wrote them itself, and stdout
// gets every byte even when it is a non-blocking pipe that fills up.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLog } from '../../src/log/logger.ts';

function capture(): { lines: string[]; log: ReturnType<typeof createLog> } {
  const lines: string[] = [];
  const log = createLog(new Set(), { write: (s: string) => void lines.push(s.replace(/,"time":"[^"]*"/, ',"time":"T"')) });
  return { lines, log };
}

describe('log lines', () => {
  it('are written as pino wrote them: level, time, pid, fields in order, msg last', () => {
    const { lines, log } = capture();
    log.warn('plain');
    log.info('with "quotes" and \\ and \t tab and é ✓', { a: 1, b: 'x"y\\z\n', c: undefined, d: () => 1, e: Number.NaN, f: Infinity, g: [1, 'two', null, undefined] });
    log.error('', { h: { nested: { deep: true } }, i: null, 'we"ird': 'k', j: -0, k: 1.5e300, l: Symbol('s'), m: true, n: new Date(0) });
    log.conn('closed pipe', Object.assign(Object.create({ inherited: 1 }) as object, { own: 2 }));
    // Taken from pino 10.4 with the daemon's options (level label, isoTime, base { pid }).
    const pid = process.pid;
    assert.deepEqual(lines, [
      `{"level":"warn","time":"T","pid":${pid},"msg":"plain"}\n`,
      `{"level":"info","time":"T","pid":${pid},"a":1,"b":"x\\"y\\\\z\\n","e":null,"f":null,"g":[1,"two",null,null],"msg":"with \\"quotes\\" and \\\\ and \\t tab and é ✓"}\n`,
      `{"level":"error","time":"T","pid":${pid},"h":{"nested":{"deep":true}},"i":null,"we\\"ird":"k","j":0,"k":1.5e+300,"m":true,"n":"1970-01-01T00:00:00.000Z","msg":""}\n`,
      `{"level":"info","time":"T","pid":${pid},"own":2,"msg":"closed pipe"}\n`,
    ]);
    for (const line of lines) JSON.parse(line);
  });

  it('are silenced by category, and all of them by quiet all', () => {
    const { lines, log } = capture();
    log.setQuiet(new Set(['conns']));
    log.conn('opening pipe', {});
    log.connError('dial failed');
    log.setQuiet(new Set(['all']));
    log.info('not written');
    log.handshakeError('not written');
    log.setQuiet(new Set());
    log.info('written again');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['dial failed', 'written again'],
    );
  });
});

describe('stdout', () => {
  it('gets every byte in order when it is a non-blocking pipe that a slow reader drains', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-fifo-'));
    try {
      const fifo = join(dir, 'out');
      execFileSync('mkfifo', [fifo]);
      const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const lines = 20_000;
      // The writer's stdout is the FIFO opened non-blocking: a pipe holds 64 KiB, the log ~1.5 MiB.
      const script = `
        import { openSync, constants } from 'node:fs';
        import { createLog } from ${JSON.stringify(new URL('../../src/log/logger.ts', import.meta.url).href)};
        import { BatchedLines } from ${JSON.stringify(new URL('../../src/log/batched-lines.ts', import.meta.url).href)};
        const fd = openSync(${JSON.stringify(fifo)}, constants.O_WRONLY | constants.O_NONBLOCK);
        const log = createLog(new Set(), new BatchedLines(fd));
        for (let i = 0; i < ${lines}; i++) log.conn('opening pipe', { n: i, padding: 'x'.repeat(40) });
        log.flush();
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const exited = once(child, 'exit');
      let text = '';
      let ended = false;
      void exited.then(() => (ended = true));
      const buf = Buffer.alloc(16384);
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        let n = 0;
        try {
          n = readSync(reader, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n > 0) text += buf.toString('utf8', 0, n);
        else if (ended) break;
        // A slow reader: the writer meets a full pipe again and again.
        await sleep(n > 0 ? 1 : 5);
      }
      const [code] = await exited;
      assert.equal(code, 0, stderr);
      const got = text.trimEnd().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
      assert.equal(got.length, lines);
      got.forEach((n, i) => assert.equal(n, i));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Misbehaving clients for the whole soak: one pattern after another, a few at a time, each given up
// on after a while. They are expected to fail; the soak counts them, and checks that nobody else did.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dribble, garbage, rawConnection, realClientHello, tlsOver } from '../test/helpers/hostile-clients.ts';

export const PATTERNS = ['garbage', 'truncated-hello-close', 'truncated-hello-stall', 'dribbled-hello-stall', 'silent', 'reset-mid-transfer'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface HostileOptions {
  readonly port: number;
  readonly client: { cert: string; key: string; ca: string };
  /** How long a stalling client holds its connection (longer than --connect-timeout). */
  readonly stallMs: number;
  /** Hostile connections open at once, at most. */
  readonly concurrency: number;
}

async function misbehave(pattern: Pattern, o: HostileOptions, hello: Buffer, tls: { cert: Buffer; key: Buffer; ca: Buffer }): Promise<void> {
  const { socket } = await rawConnection(o.port);
  try {
    switch (pattern) {
      case 'garbage':
        socket.write(garbage(1 + Math.floor(Math.random() * 8192)));
        await sleep(500);
        break;
      case 'truncated-hello-close':
        socket.write(hello.subarray(0, 1 + Math.floor(Math.random() * (hello.length - 1))));
        await sleep(100);
        socket.end();
        await sleep(200);
        break;
      case 'truncated-hello-stall':
        socket.write(hello.subarray(0, 1 + Math.floor(Math.random() * (hello.length - 1))));
        await sleep(o.stallMs);
        break;
      case 'dribbled-hello-stall':
        await dribble(socket, hello.subarray(0, 200 + Math.floor(Math.random() * (hello.length - 200))), 5);
        await sleep(o.stallMs);
        break;
      case 'silent':
        await sleep(o.stallMs);
        break;
      case 'reset-mid-transfer': {
        const s = await tlsOver(socket, tls);
        s.on('error', () => {});
        s.resume();
        const chunk = Buffer.alloc(16 * 1024, 0x5a);
        for (let i = 0; i < 8; i++) {
          s.write(chunk);
          await sleep(10);
        }
        socket.resetAndDestroy();
        break;
      }
    }
  } finally {
    socket.destroy();
  }
}

/** Runs hostile clients until `signal` aborts; resolves with how many of each pattern ran. */
export async function runHostile(o: HostileOptions, signal: AbortSignal): Promise<Record<Pattern, number>> {
  const counts = Object.fromEntries(PATTERNS.map((p) => [p, 0])) as Record<Pattern, number>;
  const hello = await realClientHello();
  const tls = { cert: readFileSync(o.client.cert), key: readFileSync(o.client.key), ca: readFileSync(o.client.ca) };
  const running = new Set<Promise<void>>();
  let n = 0;
  while (!signal.aborted) {
    if (running.size >= o.concurrency) {
      await Promise.race(running);
      continue;
    }
    const pattern = PATTERNS[n++ % PATTERNS.length]!;
    const p = misbehave(pattern, o, hello, tls)
      .catch(() => {})
      .finally(() => running.delete(p));
    running.add(p);
    counts[pattern]++;
    await sleep(100);
  }
  await Promise.allSettled(running);
  return counts;
}

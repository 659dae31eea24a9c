// Load for binary-replacement tests: loadgen's handshake and request/response loads plus an
// integrity checker that verifies every echoed byte, run until the replacements are done, and a
// tally of what failed.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { handshakeLoad, requestResponseLoad, type LoadClient, type LoadResult } from './loadgen.ts';
import type { Ca, Issued } from './pki.ts';

/** Each loadgen run; runs repeat until the replacements are done, so rr connections land on many generations. */
const RUN_MS = 3000;

export interface Tally {
  hs: { ok: number; errors: number; samples: Set<string> };
  rr: { ok: number; errors: number; samples: Set<string> };
  /** Integrity checker: transfers whose echo came back complete and identical. */
  verified: number;
  failedConnections: number;
  corrupted: number;
  checkerSamples: Set<string>;
}

function newTally(): Tally {
  return { hs: { ok: 0, errors: 0, samples: new Set() }, rr: { ok: 0, errors: 0, samples: new Set() }, verified: 0, failedConnections: 0, corrupted: 0, checkerSamples: new Set() };
}

/** One connection: 8 random messages of 1–16 KiB, each echo compared byte for byte. */
async function checkTransfer(port: number, client: Issued, ca: Ca, tally: Tally): Promise<void> {
  let socket: TLSSocket | undefined;
  try {
    socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
    socket.setTimeout(10_000, () => socket!.destroy(new Error('no progress for 10 s')));
    await once(socket, 'secureConnect');
    // From here on a reset shows as 'close' before the echo is complete (counted below).
    socket.on('error', (err) => tally.checkerSamples.add(err.message));
    for (let i = 0; i < 8; i++) {
      const message = randomBytes(1024 + Math.floor(Math.random() * 15 * 1024));
      const chunks: Buffer[] = [];
      let got = 0;
      const s = socket;
      const echoed = new Promise<Buffer>((resolve, reject) => {
        const onData = (c: Buffer): void => {
          chunks.push(c);
          got += c.length;
          if (got >= message.length) {
            s.off('data', onData);
            s.off('close', onClose);
            resolve(Buffer.concat(chunks));
          }
        };
        const onClose = (): void => reject(new Error(`closed after ${got}/${message.length} bytes`));
        s.on('data', onData);
        s.once('close', onClose);
      });
      s.write(message);
      const back = await echoed;
      if (!back.equals(message)) {
        tally.corrupted++;
        tally.checkerSamples.add(`corrupted: ${back.length} bytes back for ${message.length}`);
        return;
      }
    }
    tally.verified++;
  } catch (err) {
    tally.failedConnections++;
    tally.checkerSamples.add((err as Error).message);
  } finally {
    socket?.destroy();
  }
}

/** Who loads the tunnel: the load generator's binary and the client's credentials. */
export interface LoadSetup {
  readonly loadgen: string;
  readonly client: Issued;
  readonly ca: Ca;
}

/**
 * Runs the load (loadgen hs, loadgen rr and the integrity checker, each with 2 workers, in
 * repeated runs) against `port` until `replace` resolves, then lets the last runs finish.
 */
export async function underLoad(port: number, setup: LoadSetup, replace: () => Promise<void>): Promise<Tally> {
  const { loadgen, client, ca } = setup;
  const creds: LoadClient = { cert: client.cert, key: client.key, ca: ca.cert };
  const tally = newTally();
  let done = false;
  const add = (into: Tally['hs'], r: LoadResult): void => {
    into.ok += r.ok;
    into.errors += r.errors;
    if (r.errors > 0 && r.error_sample) into.samples.add(r.error_sample);
  };
  const loop = async (run: () => Promise<LoadResult>, into: Tally['hs']): Promise<void> => {
    while (!done) add(into, await run());
  };
  const checker = async (): Promise<void> => {
    while (!done) await checkTransfer(port, client, ca, tally);
  };
  const load = Promise.all([
    loop(() => handshakeLoad(loadgen, port, { client: creds, concurrency: 2, durationMs: RUN_MS }), tally.hs),
    loop(() => requestResponseLoad(loadgen, port, { client: creds, concurrency: 2, durationMs: RUN_MS, size: 256 }), tally.rr),
    checker(),
    checker(),
  ]);
  await sleep(500);
  try {
    await replace();
  } finally {
    done = true;
    await load;
  }
  return tally;
}

/** One line: how many replacements, what ran, what failed, and a few of the errors seen. */
export function describeTally(way: string, replacements: number, tally: Tally, elapsedMs: number): string {
  const samples = [...tally.hs.samples, ...tally.rr.samples, ...tally.checkerSamples].slice(0, 5);
  return (
    `${way}: ${replacements} replacements in ${(elapsedMs / 1000).toFixed(1)} s; ` +
    `loadgen hs ${tally.hs.ok} ok / ${tally.hs.errors} failed; loadgen rr ${tally.rr.ok} round trips ok / ${tally.rr.errors} failed connections; ` +
    `checker ${tally.verified} verified transfers / ${tally.failedConnections} failed connections / ${tally.corrupted} corrupted` +
    (samples.length ? `; errors seen: ${samples.join(' | ')}` : '')
  );
}

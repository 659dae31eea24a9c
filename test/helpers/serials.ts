// Watching which certificate a TLS server presents to new connections.
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTls, peerSerial, type TlsClientOptions } from './clients.ts';

/**
 * Opens new connections one after another until the server presents `want` or `withinMs` passes.
 * Returns the last serial seen and when it was first seen (ms from the call).
 */
export async function firstSerialSeen(port: number, opts: TlsClientOptions, want: string, withinMs: number): Promise<{ serial: string; ms: number }> {
  const start = performance.now();
  let serial = '';
  while (performance.now() - start < withinMs) {
    const s = await connectTls(port, opts);
    serial = peerSerial(s);
    s.destroy();
    if (serial === want) break;
    await sleep(10);
  }
  return { serial, ms: performance.now() - start };
}

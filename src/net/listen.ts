import { lookup } from 'node:dns/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { StartupError } from '../cli/errors.ts';
import type { Address } from './address.ts';

export interface ListenOptions {
  /** Called for each accepted connection. */
  readonly onConnection: (socket: Socket) => void;
}

/**
 * Binds like Ghostunnel: an empty host is the IPv4 wildcard, a host name binds the one address it
 * resolves to (IPv4 first), and TCP sockets use SO_REUSEPORT so a successor can bind beside us.
 */
export async function listen(addr: Address, options: ListenOptions): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 15_000 }, options.onConnection);
  let listenOpts: Parameters<Server['listen']>[0];
  switch (addr.kind) {
    case 'tcp': {
      const host = addr.host === '' ? '0.0.0.0' : (await resolveOne(addr.host, addr.text));
      listenOpts = { host, port: addr.port, reusePort: true, backlog: 4096 };
      break;
    }
    case 'unix':
      listenOpts = { path: addr.path, backlog: 4096 };
      break;
    default:
      throw new StartupError(`--listen ${addr.kind}:NAME is not supported yet`);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenOpts, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

async function resolveOne(host: string, text: string): Promise<string> {
  try {
    return (await lookup(host, { order: 'ipv4first' })).address;
  } catch (err) {
    throw new StartupError(`unable to resolve listen address ${text}: ${(err as Error).message}`);
  }
}

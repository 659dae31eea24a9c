// One extra event loop of --workers: it accepts on its duplicate of the listening socket and runs
// the same tunnel as the main thread, with a copy of the main thread's TLS context and
// configuration. It owns no files, signals, timers or status: every reload, limit and drain comes
// from the main thread, and its tunnel events go back there.
import { parentPort, workerData } from 'node:worker_threads';
import type { AccessPolicy } from '../auth/access-policy.ts';
import type { ParsedArgs } from '../cli/parse.ts';
import { buildConfig } from '../config/build.ts';
import { buildPlaneContext } from '../credentials/secure-context.ts';
import { startDataPlane } from '../engine/planes.ts';
import { createLog, type Log } from '../log/logger.ts';
import { SyslogDestination } from '../log/syslog.ts';
import { Listener } from '../net/listener.ts';
import { combinedPolicy, flagPolicy, policySource } from '../runtime/access-control.ts';
import type { Generation } from '../runtime/generation.ts';
import { reauthorize } from '../runtime/reauthorize.ts';
import { tunnelFor } from '../runtime/tunnel-for.ts';
import { unitsOfWork } from '../runtime/units-of-work.ts';
import { OpenConnections } from '../tunnel/open-connections.ts';
import type { PlaneContextCell } from '../tunnel/runtime-settings.ts';
import { ConnectionTracker } from '../tunnel/tracker.ts';
import { batchingEvents } from './event-batch.ts';
import type { ContextMaterial, FromWorker, Request, ToWorker, WorkerInit } from './protocol.ts';

const port = parentPort!;
const init = workerData as WorkerInit;
const send = (message: FromWorker): void => port.postMessage(message);

function contextOf(material: ContextMaterial): PlaneContextCell['current'] {
  const identity = material.chainPem === undefined || material.keyPem === undefined ? undefined : { chainPem: material.chainPem, key: { kind: 'pem' as const, pem: material.keyPem } };
  return { planeContext: buildPlaneContext(identity, { pems: material.caPems }, material.tls, material.ticketKeys, init.plane) };
}

/** The main thread's OPA policy, asked over the port; its --connect-timeout applies there. */
const verdicts = new Map<number, { resolve: (allowed: boolean) => void; reject: (err: Error) => void }>();
let nextVerdict = 0;
const remoteOpa: AccessPolicy = {
  allows: (peer) =>
    new Promise((resolve, reject) => {
      const id = nextVerdict++;
      verdicts.set(id, { resolve, reject });
      send({ kind: 'authorize', id, der: peer.x509.raw });
    }),
};

/** The rules of a configuration: the flags compiled here, OPA asked of the main thread. */
function generationOf(args: ParsedArgs): Generation {
  const config = buildConfig(args);
  const opa = policySource(config) === undefined ? undefined : remoteOpa;
  return { config, args, policy: combinedPolicy(config, flagPolicy(config), opa), opa: undefined };
}

/** The worker's log lines carry `worker: N`, so that an operator can tell the loops apart. */
function workerLog(log: Log, index: number): Log {
  const tag = (fields?: object): object => ({ ...fields, worker: index });
  return {
    info: (msg, fields) => log.info(msg, tag(fields)),
    warn: (msg, fields) => log.warn(msg, tag(fields)),
    error: (msg, fields) => log.error(msg, tag(fields)),
    conn: (msg, fields) => log.conn(msg, tag(fields)),
    connError: (msg, fields) => log.connError(msg, tag(fields)),
    handshakeError: (msg, fields) => log.handshakeError(msg, tag(fields)),
    flush: () => log.flush(),
  };
}

let generation = generationOf(init.args);
const { config } = generation;
const syslog = config.lifecycle.syslog ? new SyslogDestination() : undefined;
const rootLog = createLog(config.quiet, syslog);
const log = workerLog(rootLog, init.index);
const store = { current: contextOf(init.material) };
const tracker = new ConnectionTracker();
const connections = new OpenConnections();
const events = batchingEvents((batch) => send({ kind: 'events', batch }));
const serving = tunnelFor(generation, { store, connections, log, tracker, events });
const plane = startDataPlane(init.plane, serving.tunnel);
const listener = new Listener(
  { fd: init.socket.fd, address: init.socket.address, ownedPath: undefined, name: init.socket.name, listening: true },
  {
    acceptor: plane.acceptor(serving.mode),
    onAcceptError: (err, retryMs) => {
      events.acceptError();
      log.connError(`error accepting connection: ${err.message} (retrying in ${retryMs} ms)`);
    },
  },
);

function apply(request: Exclude<Request, { kind: 'reauthorize' | 'units' }>): void {
  switch (request.kind) {
    case 'credentials':
      store.current = contextOf(request.material);
      return;
    case 'generation':
      generation = generationOf(request.args);
      serving.publish(generation);
      rootLog.setQuiet(generation.config.quiet);
      return;
  }
}

async function drain(handedOver: boolean): Promise<void> {
  listener.close({ handedOver });
  send({ kind: 'closed' });
  await tracker.idle();
  // The events of the last connections go out before the main thread hears that this loop is done.
  events.flush();
  log.flush();
  send({ kind: 'drained' });
}

// Messages are handled as they arrive, in order; a request is in force when its ack is sent.
port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'pause':
      return listener.pause('full');
    case 'resume':
      return listener.resume('full');
    case 'verdict': {
      const pending = verdicts.get(message.id);
      verdicts.delete(message.id);
      if (message.error === undefined) pending?.resolve(message.allowed);
      else pending?.reject(new Error(message.error));
      return;
    }
    case 'drain':
      return void drain(message.handedOver);
    case 'units':
      return send({ kind: 'ack', id: message.id, units: unitsOfWork(serving.tunnel.census()) });
    case 'reauthorize':
      return void reauthorize(connections, generation.policy, log).then(
        (reauthorized) => send({ kind: 'ack', id: message.id, reauthorized }),
        (err: Error) => send({ kind: 'ack', id: message.id, error: err.message }),
      );
    default:
      try {
        apply(message);
        send({ kind: 'ack', id: message.id });
      } catch (err) {
        send({ kind: 'ack', id: message.id, error: (err as Error).message });
      }
  }
});

listener.start();
send({ kind: 'ready' });

// Everywhere but Linux (macOS, Windows, the BSDs): Node's own API and nothing else, so nothing
// platform-specific is loaded or guessed at. Listening sockets stay inside Node, the Linux-only
// features are refused at start (src/config/platform-support.ts), and Windows, which has no
// SIGHUP, SIGUSR1 or SIGUSR2 to send, reloads on --timed-reload, --auto-reload or POST /_reload.
import type { System } from './platform.ts';

export function portable(name: NodeJS.Platform): System {
  const windows = name === 'win32';
  return {
    name,
    descriptors: undefined,
    datagrams: undefined,
    systemd: false,
    unixSockets: !windows,
    reexec: !windows,
    addons: false,
    syslogPaths: [],
    signals: windows
      ? // Ctrl-C and Ctrl-Break; a service wrapper stops Node.js with Ctrl-C (docs/windows.md).
        { reload: [], shutdown: ['SIGINT', 'SIGBREAK', 'SIGTERM'], upgrade: [] }
      : { reload: ['SIGHUP', 'SIGUSR1'], shutdown: ['SIGTERM', 'SIGINT'], upgrade: ['SIGUSR2'] },
    processFiles: () => [],
    threadFiles: [],
    acceptQueueFiles: [],
    threadId: undefined,
    ramDirectory: undefined,
  };
}

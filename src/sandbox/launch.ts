// How this process was launched, as opposed to how the sandbox re-executed it: what a hand-off
// successor must be started with, so that it sets up its own sandbox for its own configuration.

/** Set across the re-exec: how many of the new process's execArgv the sandbox put in front. */
const ADDED_FLAGS_ENV = 'GHOSTUNNEL_SANDBOX_FLAGS';
/** Holds the user's own NODE_OPTIONS (possibly empty) across a successor's start; see successorShellPrefix. */
const OWN_NODE_OPTIONS_ENV = 'GHOSTUNNEL_OWN_NODE_OPTIONS';

const addedFlags = Number(process.env[ADDED_FLAGS_ENV] ?? '0');
// Read once and dropped, so that a successor (or any child) starts from its own command line.
delete process.env[ADDED_FLAGS_ENV];

/** The environment entry that tells the re-executed process how many options were put in front. */
export function addedFlagsMark(count: number): NodeJS.ProcessEnv {
  return { [ADDED_FLAGS_ENV]: String(count) };
}

/** Node's options as the process was started, without those the sandbox added. */
export function launchExecArgv(): string[] {
  return process.execArgv.slice(Number.isInteger(addedFlags) && addedFlags > 0 ? addedFlags : 0);
}

/**
 * Under the permission model Node hands its own permission flags to every child process through
 * NODE_OPTIONS. A successor must instead start from the user's NODE_OPTIONS, so the shell that
 * starts it puts them back first: the variables to give that shell, and the commands to start its
 * script with.
 */
export function successorShellPrefix(): { env: NodeJS.ProcessEnv; script: string } {
  return {
    env: { [OWN_NODE_OPTIONS_ENV]: process.env.NODE_OPTIONS ?? '' },
    script: `NODE_OPTIONS=$${OWN_NODE_OPTIONS_ENV}; unset ${OWN_NODE_OPTIONS_ENV}; if [ -n "$NODE_OPTIONS" ]; then export NODE_OPTIONS; else unset NODE_OPTIONS; fi;`,
  };
}

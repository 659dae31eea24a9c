/** A command-line error, printed as "<prog>: error: <message>, try --help" with exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A start-up failure after parsing: logged, printed as "error: <message>", exit code 1. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * What to say when the sandbox refused a file: Node's own text ("Use --allow-fs-read …") names a
 * Node flag the user cannot pass to ghostunnel. undefined for any other error.
 */
export function sandboxDenial(err: unknown): string | undefined {
  if ((err as NodeJS.ErrnoException | undefined)?.code !== 'ERR_ACCESS_DENIED') return undefined;
  return 'outside the sandbox: only the directories of the files named at start can be read (restart ghostunnel to use another directory, or run it with --disable-landlock)';
}

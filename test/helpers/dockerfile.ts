// Reads a Dockerfile into stages and instructions (continuation lines joined, comments and the
// parser directive dropped): enough to check what an image would contain without building it.
import { readFileSync } from 'node:fs';

export interface DockerInstruction {
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined with single spaces. */
  readonly args: string;
}

export interface DockerStage {
  /** The FROM line's arguments, e.g. "node:24-bookworm-slim AS build". */
  readonly from: string;
  readonly instructions: DockerInstruction[];
}

export function readDockerfile(path: string): { stages: DockerStage[] } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const logical: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && current === '')) continue;
    current = current === '' ? line : `${current} ${line}`;
    if (current.endsWith('\\')) current = current.slice(0, -1).trimEnd();
    else {
      logical.push(current);
      current = '';
    }
  }
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const space = line.indexOf(' ');
    const keyword = line.slice(0, space).toUpperCase();
    const args = line.slice(space + 1).trim();
    if (keyword === 'FROM') stages.push({ from: args, instructions: [] });
    else if (stages.length === 0) throw new Error(`${path}: ${keyword} before FROM`);
    else stages.at(-1)!.instructions.push({ keyword, args });
  }
  return { stages };
}

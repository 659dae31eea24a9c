import { Document, isCollection, isMap, isScalar, type Node, type Pair } from 'yaml';
import { FLAGS } from '../cli/flags.ts';
import type { CommandLine } from '../cli/parse.ts';
import type { LoadedArgs } from './config-source.ts';
import { flagText } from './flag-text.ts';

/**
 * The configuration in effect as a --config file (`ghostunnel check` prints it): mode, then every
 * flag of the mode in flag-table order with its value, secrets masked. A value set somewhere says
 * where in a comment (the file and line, the command line or the environment); defaults say nothing.
 */
export function effectiveConfigYaml(loaded: LoadedArgs, commandLine: CommandLine, header: string): string {
  const { args, file } = loaded;
  const values: Record<string, unknown> = { mode: args.mode };
  const origins = new Map<string, string>();
  if (file?.mode !== undefined) origins.set('mode', `${file.path}:${file.lines.get('mode')}`);
  for (const spec of FLAGS) {
    const value = args.values.get(spec.name);
    // --config names the file itself, which cannot name another; flags of other platforms or not built yet are never in effect.
    if (value === undefined || spec.name === 'config' || spec.status !== 'implemented') continue;
    values[spec.name] = flagText(spec, value);
    const origin = commandLine.origins.get(spec.name);
    if (origin === 'environment') origins.set(spec.name, `environment (${spec.env})`);
    else if (origin !== undefined) origins.set(spec.name, 'command line');
    else if (loaded.fromFile.has(spec.name)) origins.set(spec.name, `${file!.path}:${file!.lines.get(spec.name)}`);
  }
  const doc = new Document(values);
  doc.commentBefore = ` ${header.split('\n').join('\n ')}`;
  if (isMap(doc.contents)) {
    for (const pair of doc.contents.items as Array<Pair<Node, Node>>) {
      if (isCollection(pair.value)) pair.value.flow = true;
      const origin = isScalar(pair.key) ? origins.get(String(pair.key.value)) : undefined;
      if (origin !== undefined && pair.value !== null) pair.value.comment = ` ${origin}`;
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

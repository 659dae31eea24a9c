// Test files again on the portable data plane: GHOSTUNNEL_DATA_PLANE=node for every daemon they start.
import type { TestContext } from 'node:test';
import { chooseDataPlane } from '../../src/engine/planes.ts';
import { rerunWith } from '../helpers/rerun.ts';

export { RERUN_TIMEOUT_MS } from '../helpers/rerun.ts';

export async function onNodePlane(t: TestContext, files: readonly string[]): Promise<void> {
  // Where the native engine does not load, the whole suite already ran on the node plane.
  if (chooseDataPlane(undefined).kind === 'node') return t.skip('the suite already runs on the node data plane here (no native engine)');
  await rerunWith(t, files, { GHOSTUNNEL_DATA_PLANE: 'node' }, files.length);
}

// The data plane the tests run against: GHOSTUNNEL_DATA_PLANE (set by the re-runs in test/planes/,
// and passed on to every daemon a test starts), else the daemon's own default on this machine.
import type { DataPlaneKind } from '../../src/config/types.ts';
import { chooseDataPlane } from '../../src/engine/planes.ts';

export const PLANE: DataPlaneKind = chooseDataPlane((process.env.GHOSTUNNEL_DATA_PLANE || undefined) as DataPlaneKind | undefined).kind;

// Start-up milestones, published on the diagnostics channel "ghostunnel:startup" for the footprint
// bench (bench/footprint-where.ts subscribes from a preloaded script). Without a subscriber a
// publish does nothing; node:diagnostics_channel is loaded by Node.js itself.
import { channel } from 'node:diagnostics_channel';

export type StartupMilestone = 'parsed' | 'exec' | 'modules' | 'credentials' | 'listening';

const milestones = channel('ghostunnel:startup');

export function reached(milestone: StartupMilestone): void {
  milestones.publish(milestone);
}

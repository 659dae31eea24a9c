import type { Config } from './types.ts';

/**
 * Something that follows the configuration as a reload changes it (the log's --quiet categories,
 * the metrics sinks): it checks a candidate before anything is applied, and returns what applies it.
 */
export interface ConfigFollower {
  /** Throws to refuse the candidate; the whole reload then keeps the previous configuration. */
  prepare(next: Config): Promise<() => void>;
}

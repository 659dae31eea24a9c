// A go-metrics Timer, as Ghostunnel's conn.handshake and conn.lifetime are, without allocating per
// update: a ring of recent samples (min, max, mean, deviation, percentiles), moving rates, and
// Prometheus histogram buckets. Values are recorded in nanoseconds, like Go's time.Duration.

/** go-metrics keeps 1028 samples per timer; so does this ring (the most recent ones). */
const RESERVOIR = 1028;
const TICK_SECONDS = 5;
const M1_ALPHA = 1 - Math.exp(-TICK_SECONDS / 60);
const M5_ALPHA = 1 - Math.exp(-TICK_SECONDS / 60 / 5);
const M15_ALPHA = 1 - Math.exp(-TICK_SECONDS / 60 / 15);

/** What the exporters read, taken at export time. Durations in nanoseconds, rates per second. */
export interface TimerSnapshot {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly sum: number;
  readonly stdDev: number;
  readonly variance: number;
  /** Value at each of PERCENTILES, same order. */
  readonly percentiles: readonly number[];
  readonly rate1: number;
  readonly rate5: number;
  readonly rate15: number;
  readonly rateMean: number;
  /** Prometheus buckets in seconds: cumulative counts for each upper bound, +Inf last. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  /** Sum of every sample ever recorded, in seconds (the histogram's _sum). */
  readonly totalSeconds: number;
}

type SampleStats = Omit<TimerSnapshot, 'count' | 'rate1' | 'rate5' | 'rate15' | 'rateMean' | 'totalSeconds'>;

export const PERCENTILES = [0.5, 0.75, 0.95, 0.99, 0.999] as const;
/** How go-metrics names them: "50-percentile" … "999-percentile". */
export const PERCENTILE_NAMES = ['50', '75', '95', '99', '999'] as const;

/** go-metrics' percentile: linear interpolation between the two nearest ranks. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const pos = p * (sorted.length + 1);
  if (pos < 1) return sorted[0]!;
  if (pos >= sorted.length) return sorted[sorted.length - 1]!;
  const lower = sorted[Math.floor(pos) - 1]!;
  const upper = sorted[Math.floor(pos)]!;
  return lower + (pos - Math.floor(pos)) * (upper - lower);
}

export class TimerStats {
  #count = 0;
  #totalSeconds = 0;
  readonly #samples = new Float64Array(RESERVOIR);
  #next = 0;
  readonly #bounds: readonly number[];
  readonly #bucketCounts: Float64Array;
  readonly #started = Date.now();
  #uncounted = 0;
  #rate1 = 0;
  #rate5 = 0;
  #rate15 = 0;
  #ticked = false;
  #samplesStats: SampleStats | undefined;

  /** `bounds`: the Prometheus histogram's upper bounds in seconds, ascending. */
  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#bucketCounts = new Float64Array(bounds.length + 1);
  }

  /** Records one duration given in milliseconds (performance.now() differences). */
  update(ms: number): void {
    const ns = Math.round(ms * 1e6);
    this.#count++;
    this.#uncounted++;
    this.#totalSeconds += ms / 1000;
    this.#samples[this.#next % RESERVOIR] = ns;
    this.#next++;
    let i = 0;
    while (i < this.#bounds.length && ms / 1000 > this.#bounds[i]!) i++;
    this.#bucketCounts[i]!++;
    this.#samplesStats = undefined;
  }

  /** Advances the moving rates; called every 5 seconds, as go-metrics' meters tick. */
  tick(): void {
    const rate = this.#uncounted / TICK_SECONDS;
    this.#uncounted = 0;
    if (!this.#ticked) {
      this.#rate1 = this.#rate5 = this.#rate15 = rate;
      this.#ticked = true;
      return;
    }
    this.#rate1 += M1_ALPHA * (rate - this.#rate1);
    this.#rate5 += M5_ALPHA * (rate - this.#rate5);
    this.#rate15 += M15_ALPHA * (rate - this.#rate15);
  }

  get count(): number {
    return this.#count;
  }

  /** Read by several exporters per scrape: the sample statistics are kept until the next update. */
  snapshot(): TimerSnapshot {
    this.#samplesStats ??= this.#computeSampleStats();
    const elapsed = (Date.now() - this.#started) / 1000;
    return {
      ...this.#samplesStats,
      count: this.#count,
      rate1: this.#rate1,
      rate5: this.#rate5,
      rate15: this.#rate15,
      rateMean: elapsed > 0 ? this.#count / elapsed : 0,
      totalSeconds: this.#totalSeconds,
    };
  }

  #computeSampleStats(): SampleStats {
    const sorted = this.#samples.slice(0, Math.min(this.#next, RESERVOIR)).sort();
    const n = sorted.length;
    let sum = 0;
    for (const v of sorted) sum += v;
    const mean = n === 0 ? 0 : sum / n;
    let squares = 0;
    for (const v of sorted) squares += (v - mean) ** 2;
    const variance = n === 0 ? 0 : squares / n;
    let cumulative = 0;
    const buckets = [...this.#bounds, Infinity].map((le, i) => ({ le, count: (cumulative += this.#bucketCounts[i]!) }));
    return {
      min: n === 0 ? 0 : sorted[0]!,
      max: n === 0 ? 0 : sorted[n - 1]!,
      mean,
      sum,
      stdDev: Math.sqrt(variance),
      variance,
      percentiles: PERCENTILES.map((p) => percentile(sorted, p)),
      buckets,
    };
  }
}

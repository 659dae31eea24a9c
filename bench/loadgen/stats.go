package main

import (
	"sort"
	"sync"
	"time"
)

// tally gathers what the workers of one run observed: operation latencies and failures.
type tally struct {
	mu          sync.Mutex
	latencies   []time.Duration
	errors      int64
	errorSample string
}

// add merges one worker's latencies when it is done, so the workers do not contend per operation.
func (t *tally) add(latencies []time.Duration) {
	t.mu.Lock()
	t.latencies = append(t.latencies, latencies...)
	t.mu.Unlock()
}

// fail counts a failed operation and keeps its error text as the sample (the last one wins).
func (t *tally) fail(err error) {
	t.mu.Lock()
	t.errors++
	t.errorSample = err.Error()
	t.mu.Unlock()
}

// latencyResult is what hs and rr report. Latencies are in milliseconds.
type latencyResult struct {
	Mode        string  `json:"mode"`
	OK          int     `json:"ok"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	PerS        float64 `json:"per_s"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	P999Ms      float64 `json:"p999_ms"`
	ErrorSample string  `json:"error_sample"`
}

// summary turns a run's tally into the figures: the rate over the whole run, from the first
// operation started to the last one finished, and nearest-rank percentiles.
func (t *tally) summary(mode string, elapsed time.Duration) latencyResult {
	sort.Slice(t.latencies, func(i, j int) bool { return t.latencies[i] < t.latencies[j] })
	return latencyResult{
		Mode:        mode,
		OK:          len(t.latencies),
		Errors:      t.errors,
		Seconds:     elapsed.Seconds(),
		PerS:        float64(len(t.latencies)) / elapsed.Seconds(),
		P50Ms:       percentileMs(t.latencies, 0.50),
		P99Ms:       percentileMs(t.latencies, 0.99),
		P999Ms:      percentileMs(t.latencies, 0.999),
		ErrorSample: t.errorSample,
	}
}

// percentileMs is the nearest-rank percentile of sorted latencies: the smallest value with at
// least the fraction p of the sample at or below it; 0 for an empty sample.
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted)) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return float64(sorted[rank-1]) / float64(time.Millisecond)
}

// Package latency is the fixed-size histogram of durations strata's benchmarks share: the CLI's
// `strata bench` and the go/bench harness (rust/bench uses the same buckets).
//
// Buckets grow by 2^(1/16) (under 4.5% apart) from 1 ns to 2^64 ns, so a histogram costs 8 KiB
// whatever the run's length: a slice of every sample would add 80 MB per 10M operations to the
// process whose memory a benchmark reports.
package latency

import (
	"math"
	"time"
)

// buckets covers 1 ns to 2^64 ns with 16 buckets per doubling.
const buckets = 64 * 16

// Histogram counts durations. The zero value is empty and ready to use; it is not safe for
// concurrent use (give each goroutine one and Merge them).
type Histogram struct {
	counts [buckets]uint64
	n      uint64
	max    time.Duration
}

func bucket(d time.Duration) int {
	if d < 1 {
		return 0
	}
	return min(int(math.Log2(float64(d))*16), buckets-1)
}

// Add records one sample.
func (h *Histogram) Add(d time.Duration) {
	h.counts[bucket(d)]++
	h.n++
	h.max = max(h.max, d)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest sample.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the duration below which perMille thousandths of the samples fall (nearest
// rank: 500 is the median, 990 p99, 999 p99.9, 1000 the largest), as its bucket's upper bound
// capped at the largest sample; 0 without samples. Thousandths, not a float percent: 99.9/100
// is not exact in binary.
func (h *Histogram) Quantile(perMille int) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := (h.n-1)*uint64(perMille)/1000 + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(math.Exp2(float64(i+1)/16)), h.max)
		}
	}
	return h.max
}

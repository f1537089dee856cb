package bench

import (
	"math"
	"time"
)

// Histogram counts durations in buckets growing by 2^(1/16) (under 4.5% apart). Its size is
// fixed (8 KiB), so a run of any length adds nothing to the memory the bench reports; a slice
// of every sample would add 80 MB per 10M operations. rust/bench uses the same buckets.
type Histogram struct {
	counts [histogramBuckets]uint64
	n      uint64
	max    time.Duration
}

// histogramBuckets covers 1 ns to 2^64 ns with 16 buckets per doubling.
const histogramBuckets = 64 * 16

func histogramBucket(d time.Duration) int {
	if d < 1 {
		return 0
	}
	return min(int(math.Log2(float64(d))*16), histogramBuckets-1)
}

// Add records one sample.
func (h *Histogram) Add(d time.Duration) {
	h.counts[histogramBucket(d)]++
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

// Percentile returns the p-th percentile (nearest rank, 0 < p <= 100) as the upper bound of its
// bucket, capped at the largest sample; 0 without samples.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(float64(h.n) * p / 100))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(math.Exp2(float64(i+1)/16)), h.max)
		}
	}
	return h.max
}

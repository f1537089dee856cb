package latency

import (
	"testing"
	"time"
)

func TestQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(500) != 0 {
		t.Fatal("an empty histogram has a quantile")
	}
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	// 1000 samples: rank (999*q/1000)+1, so the median is the 500th (500µs), p99 the 990th.
	for _, c := range []struct {
		perMille int
		want     time.Duration
	}{{500, 500 * time.Microsecond}, {990, 990 * time.Microsecond}, {999, 999 * time.Microsecond}, {1000, 1000 * time.Microsecond}} {
		// A quantile is its bucket's upper bound: at or above the exact rank, under 4.5% more.
		if got := h.Quantile(c.perMille); got < c.want || float64(got) > float64(c.want)*1.045 {
			t.Errorf("Quantile(%d) = %v, want %v to +4.5%%", c.perMille, got, c.want)
		}
	}
	var other Histogram
	other.Add(time.Second)
	h.Merge(&other)
	if h.Count() != 1001 || h.Max() != time.Second || h.Quantile(1000) != time.Second {
		t.Errorf("after merge: %d samples, max %v, p100 %v", h.Count(), h.Max(), h.Quantile(1000))
	}
}

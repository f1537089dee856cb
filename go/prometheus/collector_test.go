package strataprom

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/strata-db/strata/go/strata"
)

// gather collects c through a pedantic registry (which also checks that every metric was
// described, and consistently) and returns each series' value by "name" or
// "name{level=N}".
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			series := f.GetName()
			for _, l := range m.GetLabel() {
				series += fmt.Sprintf("{%s=%s}", l.GetName(), l.GetValue())
			}
			if m.GetCounter() != nil {
				values[series] = m.GetCounter().GetValue()
			} else {
				values[series] = m.GetGauge().GetValue()
			}
		}
	}
	return values
}

// Every field of strata.Stats is exported, each to its own metric: give every field (and
// every level of the per-level fields) a distinct value and find each value exactly once.
func TestEveryStatIsExported(t *testing.T) {
	var s strata.Stats
	next := uint64(1)
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Uint64:
			f.SetUint(next)
			next++
		case reflect.Array:
			for j := range f.Len() {
				f.Index(j).SetUint(next)
				next++
			}
		default:
			t.Fatalf("Stats.%s is a %v; the test (and the collector) know only uint64 fields and arrays of them",
				v.Type().Field(i).Name, f.Kind())
		}
	}

	c := &Collector{stats: func() (strata.Stats, error) { return s, nil }}
	seen := map[float64][]string{}
	for series, value := range gather(t, c) {
		seen[value] = append(seen[value], series)
	}
	for want := uint64(1); want < next; want++ {
		if series := seen[float64(want)]; len(series) != 1 {
			t.Errorf("value %d (one Stats field) is exported by %v; want exactly one series", want, series)
		}
	}
	if len(seen) != int(next-1) {
		t.Errorf("%d distinct values exported, want %d (one per Stats field and level)", len(seen), next-1)
	}
	if c, want := testutil.CollectAndCount(c), len(statMetrics)+2*strata.NumLevels; c != want {
		t.Errorf("collected %d series, want %d", c, want)
	}
}

// A real database after some work: the metrics pass Prometheus' lint, and follow the work.
func TestCollectorOnDatabase(t *testing.T) {
	db, err := strata.Open(t.TempDir(), &strata.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for i := range 100 {
		if err := db.Put(ctx, fmt.Appendf(nil, "key%03d", i), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a block cache miss, then a hit
		if _, err := db.Get(ctx, []byte("key042")); err != nil {
			t.Fatal(err)
		}
	}
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()

	c := NewCollector(db)
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	const want = `
# HELP strata_write_batches_total Acknowledged writes since the database was opened; a put or delete is a batch of one.
# TYPE strata_write_batches_total counter
strata_write_batches_total 100
# HELP strata_flushes_total Memtables written to tables since the database was opened.
# TYPE strata_flushes_total counter
strata_flushes_total 1
# HELP strata_open_iterators Iterators not yet closed.
# TYPE strata_open_iterators gauge
strata_open_iterators 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"strata_write_batches_total", "strata_flushes_total", "strata_open_iterators"); err != nil {
		t.Fatal(err)
	}

	values := gather(t, c)
	var tables, tableBytes float64
	for level := range strata.NumLevels {
		tables += values[fmt.Sprintf("strata_level_tables{level=%d}", level)]
		tableBytes += values[fmt.Sprintf("strata_level_size_bytes{level=%d}", level)]
	}
	for name, ok := range map[string]bool{
		"a table in some level":                tables >= 1,
		"table bytes in some level":            tableBytes > 0,
		"bytes in the write-ahead log":         values["strata_wal_written_bytes_total"] > 0,
		"a block cache hit":                    values["strata_block_cache_hits_total"] >= 1,
		"a block cache miss":                   values["strata_block_cache_misses_total"] >= 1,
		"the iterator's snapshot":              values["strata_snapshots"] >= 1,
		"100 writes visible":                   values["strata_visible_sequence"] >= 100,
		"strata's threads and only they in it": values["strata_runtime_tls_inits_total"] == values["strata_runtime_threads_spawned_total"],
	} {
		if !ok {
			t.Errorf("metrics show no %s: %v", name, values)
		}
	}
}

// Once the database is closed a scrape fails, naming the cause, rather than reporting zeros.
func TestCollectorAfterClose(t *testing.T) {
	db, err := strata.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(db))
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("scrape of an open database: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err = reg.Gather(); !errors.Is(err, strata.ErrClosed) {
		t.Fatalf("scrape of a closed database returned %v, want an error wrapping strata.ErrClosed", err)
	}
}

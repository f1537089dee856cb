// Package strataprom exports a strata database's statistics (strata.DB.Stats) as Prometheus
// metrics.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(strataprom.NewCollector(db))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every field of strata.Stats becomes one metric family named strata_..., following Prometheus
// conventions: counters end in _total, sizes are in bytes and end in _bytes (_bytes_total
// for byte counters), and the per-level figures are one gauge each with a "level" label
// ("0" for L0). Counters count since the database was opened, so they restart from 0 when it
// is reopened, which Prometheus' rate() treats as a counter reset. Ratios (write
// amplification, cache hit rate) are left to queries, from the counters:
//
//	(rate(strata_flush_written_bytes_total[5m]) + rate(strata_compaction_written_bytes_total[5m]))
//	  / rate(strata_wal_written_bytes_total[5m])
//
// The strata_runtime_ metrics describe the strata runtime of the whole process, not one
// database. A process with several databases gives each collector its own labels, with
// prometheus.WrapRegistererWith:
//
//	prometheus.WrapRegistererWith(prometheus.Labels{"db": "orders"}, reg).MustRegister(strataprom.NewCollector(orders))
//
// The collector reads statistics only when scraped, with one DB.Stats call; it never writes
// to the database.
package strataprom

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/strata-db/strata/go/strata"
)

// statMetric is one scalar field of strata.Stats, exported as one metric.
type statMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*strata.Stats) uint64
}

func counter(name, help string, value func(*strata.Stats) uint64) statMetric {
	return statMetric{prometheus.NewDesc("strata_"+name, help, nil, nil), prometheus.CounterValue, value}
}

func gauge(name, help string, value func(*strata.Stats) uint64) statMetric {
	return statMetric{prometheus.NewDesc("strata_"+name, help, nil, nil), prometheus.GaugeValue, value}
}

// statMetrics lists the scalar fields of strata.Stats in the order of its declaration.
var statMetrics = []statMetric{
	counter("runtime_tls_inits_total",
		"Initializations of engine thread-local state in this process; equal to strata_runtime_threads_spawned_total while only strata's own threads run engine code.",
		func(s *strata.Stats) uint64 { return s.TLSInits }),
	counter("runtime_threads_spawned_total",
		"Threads the strata runtime spawned in this process.",
		func(s *strata.Stats) uint64 { return s.StrataThreads }),
	gauge("runtime_rust_heap_bytes",
		"Bytes of Rust heap strata holds allocated in this process, all databases together.",
		func(s *strata.Stats) uint64 { return s.RustLiveBytes }),
	gauge("runtime_rust_heap_allocations",
		"Rust heap blocks strata holds allocated in this process.",
		func(s *strata.Stats) uint64 { return s.RustLiveAllocations }),
	counter("runtime_rust_allocations_total",
		"Rust heap blocks strata allocated since the process started.",
		func(s *strata.Stats) uint64 { return s.RustAllocations }),
	gauge("visible_sequence",
		"Last sequence number visible to reads.",
		func(s *strata.Stats) uint64 { return s.VisibleSeq }),
	counter("write_batches_total",
		"Acknowledged writes since the database was opened; a put or delete is a batch of one.",
		func(s *strata.Stats) uint64 { return s.BatchesWritten }),
	counter("wal_written_bytes_total",
		"Bytes appended to the write-ahead log since the database was opened.",
		func(s *strata.Stats) uint64 { return s.WALBytesWritten }),
	counter("wal_writes_total",
		"Write calls that handed log groups to the operating system since the database was opened.",
		func(s *strata.Stats) uint64 { return s.WALWrites }),
	counter("wal_syncs_total",
		"Completed write-ahead log fsyncs since the database was opened; fewer than strata_write_batches_total when concurrent writers shared them.",
		func(s *strata.Stats) uint64 { return s.WALSyncs }),
	gauge("wal_size_bytes",
		"Current size of the write-ahead log.",
		func(s *strata.Stats) uint64 { return s.WALSize }),
	gauge("memtable_size_bytes",
		"Approximate memory held by the memtable.",
		func(s *strata.Stats) uint64 { return s.MemtableBytes }),
	gauge("memtable_entries",
		"Values and tombstones held by the memtable.",
		func(s *strata.Stats) uint64 { return s.MemtableVersions }),
	counter("recovered_batches_total",
		"Batches replayed from the write-ahead log when the database was opened.",
		func(s *strata.Stats) uint64 { return s.RecoveredBatches }),
	counter("recovered_torn_bytes_total",
		"Bytes of a torn write-ahead log tail discarded when the database was opened.",
		func(s *strata.Stats) uint64 { return s.RecoveredTornBytes }),
	gauge("snapshots",
		"Live snapshots, counting one per open iterator.",
		func(s *strata.Stats) uint64 { return s.Snapshots }),
	gauge("open_iterators",
		"Iterators not yet closed.",
		func(s *strata.Stats) uint64 { return s.OpenIterators }),
	gauge("frozen_memtables",
		"Full memtables waiting to be flushed to a table.",
		func(s *strata.Stats) uint64 { return s.FrozenMemtables }),
	counter("flushes_total",
		"Memtables written to tables since the database was opened.",
		func(s *strata.Stats) uint64 { return s.Flushes }),
	counter("compactions_total",
		"Compactions, automatic and requested, finished since the database was opened.",
		func(s *strata.Stats) uint64 { return s.Compactions }),
	counter("flush_written_bytes_total",
		"Bytes written to tables by flushes since the database was opened.",
		func(s *strata.Stats) uint64 { return s.FlushBytes }),
	counter("compaction_read_bytes_total",
		"Table bytes read by compactions since the database was opened.",
		func(s *strata.Stats) uint64 { return s.CompactionBytesRead }),
	counter("compaction_written_bytes_total",
		"Table bytes written by compactions since the database was opened.",
		func(s *strata.Stats) uint64 { return s.CompactionBytesWritten }),
	gauge("compaction_debt_bytes",
		"Bytes by which levels exceed their targets, summed over levels: compaction work still owed. Writes slow down and then stall while it grows.",
		func(s *strata.Stats) uint64 { return s.CompactionDebt }),
	counter("block_cache_hits_total",
		"Table block reads served by the block cache since the database was opened.",
		func(s *strata.Stats) uint64 { return s.CacheHits }),
	counter("block_cache_misses_total",
		"Table block reads that went to the file since the database was opened.",
		func(s *strata.Stats) uint64 { return s.CacheMisses }),
	gauge("block_cache_size_bytes",
		"Memory the block cache holds now.",
		func(s *strata.Stats) uint64 { return s.CacheBytes }),
	gauge("stalled_writes",
		"Writes held back right now because compaction is behind.",
		func(s *strata.Stats) uint64 { return s.StalledWrites }),
	gauge("mapped_table_bytes",
		"Size of the table files mapped into memory: address space, not memory.",
		func(s *strata.Stats) uint64 { return s.MappedBytes }),
	gauge("mapped_table_resident_bytes",
		"Bytes of the mapped table files resident in memory now: file-backed page cache, outside the block cache.",
		func(s *strata.Stats) uint64 { return s.MappedResidentBytes }),
}

// The per-level fields of strata.Stats, each a gauge with a "level" label.
var (
	levelTablesDesc = prometheus.NewDesc("strata_level_tables",
		"Tables in each level of the tree.", []string{"level"}, nil)
	levelSizeDesc = prometheus.NewDesc("strata_level_size_bytes",
		"Size of the tables in each level of the tree.", []string{"level"}, nil)
)

// levelLabels are the "level" label values, "0" to strata.NumLevels-1.
var levelLabels = func() []string {
	labels := make([]string, strata.NumLevels)
	for i := range labels {
		labels[i] = strconv.Itoa(i)
	}
	return labels
}()

// Collector is a prometheus.Collector over one strata database. It is safe for concurrent
// use, as the Prometheus registry requires.
type Collector struct {
	stats func() (strata.Stats, error) // db.Stats, or a fixed value in tests
}

// NewCollector returns a collector of db's statistics. Register it with a
// prometheus.Registerer; it reads db.Stats on every scrape, until db is closed. Scrapes
// after that fail with an error wrapping strata.ErrClosed (unregister the collector before
// closing the database to avoid them).
func NewCollector(db *strata.DB) *Collector {
	return &Collector{stats: db.Stats}
}

// Describe sends the descriptor of every metric the collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range statMetrics {
		ch <- m.desc
	}
	ch <- levelTablesDesc
	ch <- levelSizeDesc
}

// Collect reads the database's statistics and sends them as metrics. If they cannot be read,
// it sends one invalid metric carrying the error, so the scrape reports it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(statMetrics[0].desc, fmt.Errorf("strataprom: read stats: %w", err))
		return
	}
	collectStats(&s, ch)
}

// collectStats sends the metrics for s.
func collectStats(s *strata.Stats, ch chan<- prometheus.Metric) {
	for _, m := range statMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(m.value(s)))
	}
	for level, label := range levelLabels {
		ch <- prometheus.MustNewConstMetric(levelTablesDesc, prometheus.GaugeValue, float64(s.LevelFiles[level]), label)
		ch <- prometheus.MustNewConstMetric(levelSizeDesc, prometheus.GaugeValue, float64(s.LevelBytes[level]), label)
	}
}

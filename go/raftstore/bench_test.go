package raftstore

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftbench "github.com/hashicorp/raft/bench"
)

// Benchmarks of the log-store operations raft's hot path uses, on strata and on raft-boltdb
// (the store most raft deployments use) for comparison. Both sync every write.
//
//	go test -run '^$' -bench . -benchtime 2000x ./go/raftstore
//
// BenchmarkRaftBench runs raft's own benchmarks (github.com/hashicorp/raft/bench), as shipped,
// on both; with -benchtime 1x every benchmark here runs once, a smoke test of a few seconds.

// benchStores names the stores under comparison.
var benchStores = []string{"strata", "boltdb"}

// benchStore is what raft asks of a node's storage; both stores under comparison are both.
type benchStore interface {
	raft.LogStore
	raft.StableStore
}

// openBenchStore opens the store called name in a temporary directory.
func openBenchStore(b *testing.B, name string) benchStore {
	if name == "strata" {
		s, _ := openStore(b, nil)
		return s
	}
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(b.TempDir(), "raft.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bolt.Close() })
	return bolt
}

// benchLog returns an entry of the size of a small command (256 bytes of data).
func benchLog(index uint64) *raft.Log {
	return &raft.Log{
		Index: index, Term: 1, Type: raft.LogCommand,
		Data: bytes.Repeat([]byte{byte(index)}, 256), AppendedAt: time.Now(),
	}
}

func BenchmarkStoreLogs(b *testing.B) {
	for _, batch := range []int{1, 64} {
		for _, name := range benchStores {
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				store := openBenchStore(b, name)
				logs := make([]*raft.Log, batch)
				next := uint64(1)
				b.SetBytes(int64(batch * 256))
				b.ResetTimer()
				for range b.N {
					for i := range logs {
						logs[i] = benchLog(next)
						next++
					}
					if err := store.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/entry")
			})
		}
	}
}

func BenchmarkGetLog(b *testing.B) {
	const entries = 10_000
	for _, name := range benchStores {
		b.Run(name, func(b *testing.B) {
			store := openBenchStore(b, name)
			logs := make([]*raft.Log, 0, 64)
			for i := uint64(1); i <= entries; i++ {
				logs = append(logs, benchLog(i))
				if len(logs) == cap(logs) || i == entries {
					if err := store.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
					logs = logs[:0]
				}
			}
			var l raft.Log
			b.ResetTimer()
			for i := range b.N {
				// Stride through the log so reads are not all from one block.
				if err := store.GetLog(uint64(i*7919%entries)+1, &l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// raftBenchmarks are the functions of raft's bench package, by name.
var raftBenchmarks = []struct {
	name string
	run  func(*testing.B, benchStore)
}{
	{"FirstIndex", func(b *testing.B, s benchStore) { raftbench.FirstIndex(b, s) }},
	{"LastIndex", func(b *testing.B, s benchStore) { raftbench.LastIndex(b, s) }},
	{"GetLog", func(b *testing.B, s benchStore) { raftbench.GetLog(b, s) }},
	{"StoreLog", func(b *testing.B, s benchStore) { raftbench.StoreLog(b, s) }},
	{"StoreLogs", func(b *testing.B, s benchStore) { raftbench.StoreLogs(b, s) }},
	{"DeleteRange", func(b *testing.B, s benchStore) { raftbench.DeleteRange(b, s) }},
	{"Set", func(b *testing.B, s benchStore) { raftbench.Set(b, s) }},
	{"Get", func(b *testing.B, s benchStore) { raftbench.Get(b, s) }},
	{"SetUint64", func(b *testing.B, s benchStore) { raftbench.SetUint64(b, s) }},
	{"GetUint64", func(b *testing.B, s benchStore) { raftbench.GetUint64(b, s) }},
}

// BenchmarkRaftBench runs raft's benchmarks of log and stable stores. They store index 0
// (StoreLog's first entry, DeleteRange's first batch), which raft itself never does.
func BenchmarkRaftBench(b *testing.B) {
	for _, bench := range raftBenchmarks {
		for _, name := range benchStores {
			b.Run(bench.name+"/"+name, func(b *testing.B) {
				bench.run(b, openBenchStore(b, name))
			})
		}
	}
}

package raftstore

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Benchmarks of the log-store operations raft's hot path uses, on strata and on raft-boltdb
// (the store most raft deployments use) for comparison. Both sync every write.
//
//	go test -run '^$' -bench . -benchtime 2000x ./go/raftstore

// benchStores names the stores under comparison.
var benchStores = []string{"strata", "boltdb"}

// openBenchStore opens the store called name in a temporary directory.
func openBenchStore(b *testing.B, name string) raft.LogStore {
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

package bench

import (
	"fmt"
	"strings"
)

// Mode is how an engine acknowledges writes.
type Mode int

const (
	// Fast acknowledges a write once the engine has it, without fsync (each engine's no-sync
	// setting). The fills and the mix run in this mode.
	Fast Mode = iota
	// Durable acknowledges a write only after it is fsynced. fillsync runs in this mode.
	Durable
)

func (m Mode) String() string {
	if m == Durable {
		return "durable"
	}
	return "fast"
}

// CacheBytes is the block cache given to every engine that has one (bbolt has none: it reads
// through the OS page cache).
const CacheBytes = 64 << 20

// WriteBufferBytes is the memory for memtables given to every engine that has them: strata's
// Options.MemtableBudget default (the active memtable freezes at half of it).
const WriteBufferBytes = 64 << 20

// Entry is one key and value of a batch.
type Entry struct {
	Key, Value []byte
}

// Store is one open database of one engine. Every workload drives every engine through it, so
// they all do the same work. Methods may be called from several goroutines at once.
type Store interface {
	// Write applies the entries as one atomic batch.
	Write(entries []Entry) error
	// Put writes one key.
	Put(key, value []byte) error
	// Get returns the length of the value stored under key; found is false when it is absent.
	Get(key []byte) (n int, found bool, err error)
	// Scan visits up to limit entries from the first key >= start, in key order. The slices
	// are valid during the call only.
	Scan(start []byte, limit int, visit func(key, value []byte)) error
	// Close moves what the engine holds in memory into its files (memtables flushed) and
	// closes, so a reopened database reads from its on-disk structures.
	Close() error
}

// OpenOptions say how a workload will use a store.
type OpenOptions struct {
	Mode Mode
	// Writers is how many goroutines write concurrently.
	Writers int
	// Transactions: the workload runs read-modify-write transactions (txnrmw), so an engine
	// that detects conflicts only when asked (Badger) must.
	Transactions bool
}

// Engine is one engine under test.
type Engine struct {
	Name string
	// Settings says how the engine is configured, for the report.
	Settings string
	Open     func(dir string, opts OpenOptions) (Store, error)
	// Skips names the workloads the engine has no equivalent for, with why; Run leaves them
	// out for it, and the report says why.
	Skips map[string]string
}

// Engines lists every engine, strata first.
var Engines = []Engine{strataEngine, pebbleEngine, badgerEngine, bboltEngine}

// EnginesByName returns the engines a comma-separated list names, in Engines order.
func EnginesByName(list string) ([]Engine, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			want[name] = true
		}
	}
	var out []Engine
	for _, e := range Engines {
		if want[e.Name] {
			out = append(out, e)
			delete(want, e.Name)
		}
	}
	for name := range want {
		return nil, fmt.Errorf("unknown engine %q", name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no engine named in %q", list)
	}
	return out, nil
}

// Command peerbench runs the same workloads against strata (through its Go SDK), Pebble,
// Badger and bbolt, and writes the results as JSON for cmd/benchreport. A table of ops/s and
// latencies goes to stderr as rows finish. scripts/bench.sh runs it; run it alone with e.g.
//
//	go run ./cmd/peerbench --keys 50000 --out /tmp/peers.json
//
// from go/bench, after scripts/build.sh and `. scripts/cgo-env.sh` (see the README).
//
// --busy N measures every row a second time while N busy processes (this program re-executed
// to spin) keep the cores busy; the project reports --busy $(nproc). On SIGINT or SIGTERM the
// busy processes are stopped before peerbench exits.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-db/strata/go/bench"
)

func main() {
	bench.BusyChild()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

func run() error {
	names := make([]string, len(bench.Engines))
	for i, e := range bench.Engines {
		names[i] = e.Name
	}
	keys := flag.Int("keys", 1_000_000, "keys written by fillseq and fillrandom")
	valueSize := flag.Int("value-size", 100, "value `bytes`; keys are 16 bytes")
	reads := flag.Int("reads", 0, "point reads of readrandom and readmissing, per goroutine count (default --keys)")
	scans := flag.Int("scans", 0, "scans of scan (a seek and 10 entries) and of scan100 (a seek and 100, per goroutine count), and seekprev's seeks, each followed by 10 Prevs (default --keys/10)")
	fullScans := flag.Int("full-scans", 5, "times scanall reads the whole database, one goroutine")
	mixOps := flag.Int("mix-ops", 0, "operations of the 50/50 read/write mix (default --keys)")
	syncOps := flag.Int("sync-ops", 20_000, "durable single-key writes of fillsync, split among the writers")
	txnOps := flag.Int("txn-ops", 0, "read-modify-write transactions of txnrmw, per goroutine count (default --keys/10)")
	txnHotKeys := flag.Int("txn-hot-keys", 1000, "counters txnrmw's transactions pick from")
	rwwWrites := flag.Int("rww-writes", 0, "Puts of readwhilewriting's writer, timed among the readers and alone (default --keys/10)")
	rwwReaders := flag.Int("rww-readers", 15, "readwhilewriting's reader goroutines, which read until the writer's last Put")
	readThreads := flag.String("read-threads", "1,16", "readrandom and scan100 goroutine counts, comma-separated")
	mixThreads := flag.String("mix-threads", "16", "mix goroutine counts, comma-separated")
	txnThreads := flag.String("txn-threads", "1,16", "txnrmw goroutine counts, comma-separated")
	syncWriters := flag.String("sync-writers", "1,32", "fillsync writer goroutine counts, comma-separated")
	engines := flag.String("engines", strings.Join(names, ","), "engines, comma-separated")
	workloads := flag.String("workloads", strings.Join(bench.WorkloadNames, ","), "workloads, comma-separated")
	dir := flag.String("dir", "", "where the databases go (default a new directory under $TMPDIR, removed at exit)")
	out := flag.String("out", "", "write the results as JSON to this `file` (default stdout)")
	busy := flag.Int("busy", 0, fmt.Sprintf("also measure every row while `N` busy processes run (0: quiet only; this machine has %d cores, the count the project reports)", runtime.NumCPU()))
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}

	cfg := bench.DefaultConfig(*dir, *keys)
	cfg.ValueSize, cfg.SyncOps, cfg.RWWReaders, cfg.TxnHotKeys = *valueSize, *syncOps, *rwwReaders, *txnHotKeys
	cfg.FullScans = *fullScans
	if *reads > 0 {
		cfg.Reads = *reads
	}
	if *scans > 0 {
		cfg.Scans = *scans
	}
	if *mixOps > 0 {
		cfg.MixOps = *mixOps
	}
	if *txnOps > 0 {
		cfg.TxnOps = *txnOps
	}
	if *rwwWrites > 0 {
		cfg.RWWWrites = *rwwWrites
	}
	var err error
	for _, list := range []struct {
		flag string
		dst  *[]int
	}{{*readThreads, &cfg.ReadThreads}, {*mixThreads, &cfg.MixThreads}, {*txnThreads, &cfg.TxnThreads}, {*syncWriters, &cfg.SyncWriters}} {
		if *list.dst, err = counts(list.flag); err != nil {
			return err
		}
	}
	if cfg.Engines, err = bench.EnginesByName(*engines); err != nil {
		return err
	}
	cfg.Workloads = strings.Split(*workloads, ",")
	if cfg.Dir == "" {
		if cfg.Dir, err = os.MkdirTemp("", "peerbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(cfg.Dir)
	}
	cfg.Progress = os.Stderr
	cfg.Busy = *busy
	if cfg.Busy > 0 {
		stopBusyOnSignal()
	}

	res := bench.NewResults(cfg)
	fmt.Fprintf(os.Stderr, "peerbench: %d keys x (%d + %d) bytes, %d reads, %d scans, %d mix ops, "+
		"%d transactions on %d hot keys, %d readwhilewriting writes among %d readers, %d fillsync writes; dir %s\n",
		cfg.Keys, bench.KeySize, cfg.ValueSize, cfg.Reads, cfg.Scans, cfg.MixOps, cfg.TxnOps, cfg.TxnHotKeys,
		cfg.RWWWrites, cfg.RWWReaders, cfg.SyncOps, cfg.Dir)
	if cfg.Busy > 0 {
		fmt.Fprintf(os.Stderr, "peerbench: every row quiet, then beside %d busy processes (%d cores)\n", cfg.Busy, runtime.NumCPU())
	}
	start := time.Now()
	res.Rows, err = bench.Run(cfg)
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if *out == "" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

// stopBusyOnSignal makes SIGINT and SIGTERM stop and reap the busy processes before peerbench
// exits. Its death would end them too (see go/bench/busy.go); this does not rely on it.
func stopBusyOnSignal() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		bench.StopAllBusy()
		fmt.Fprintf(os.Stderr, "peerbench: %v: busy processes stopped\n", sig)
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
}

// counts parses a comma-separated list of goroutine counts.
func counts(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("goroutine count %q is not a positive number", s)
		}
		out = append(out, n)
	}
	return out, nil
}

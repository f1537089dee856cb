// Command rangedelete measures dropping a large key range at once (deleterange, see
// go/bench/deleterange.go) on strata and Pebble: the range delete, a scan right after it,
// the compaction that reclaims the space, and the bytes on disk at each step. Run it from
// go/bench after scripts/build.sh and `. scripts/cgo-env.sh`:
//
//	go run ./cmd/rangedelete --keys 1000000
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/strata-db/strata/go/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rangedelete:", err)
		os.Exit(1)
	}
}

func run() error {
	keys := flag.Int("keys", 1_000_000, "keys the range delete covers (the store holds 10% more)")
	valueSize := flag.Int("value-size", 100, "value `bytes`; keys are 16 bytes")
	engines := flag.String("engines", "strata,pebble", "engines, comma-separated")
	dir := flag.String("dir", "", "where the databases go (default a new directory under $TMPDIR, removed at exit)")
	out := flag.String("out", "", "write the results as JSON to this `file` (default stdout)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	cfg := bench.DefaultConfig(*dir, *keys)
	cfg.ValueSize = *valueSize
	cfg.Progress = os.Stderr
	var err error
	if cfg.Engines, err = bench.EnginesByName(*engines); err != nil {
		return err
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "rangedelete-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cfg.Dir = tmp
	}
	rows, err := bench.RunDeleteRange(cfg)
	if err != nil {
		return err
	}
	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

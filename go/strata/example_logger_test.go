package strata_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/strata-db/strata/go/strata"
)

// recordChannel is a slog.Handler that hands every record at level Info and above to a channel.
type recordChannel chan slog.Record

func (c recordChannel) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo
}

func (c recordChannel) Handle(_ context.Context, r slog.Record) error {
	c <- r.Clone()
	return nil
}

// WithAttrs and WithGroup complete slog.Handler; this example's logger never adds attributes
// or groups.
func (c recordChannel) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c recordChannel) WithGroup(string) slog.Handler      { return c }

// awaitRecord returns the next record with the given message about the database in dir,
// skipping the others: records about other databases and about strata's runtime as a whole
// may reach a logger too.
func awaitRecord(records <-chan slog.Record, dir, message string) slog.Record {
	for r := range records {
		aboutDir := false
		r.Attrs(func(a slog.Attr) bool {
			aboutDir = a.Key == "dir" && a.Value.String() == dir
			return !aboutDir
		})
		if aboutDir && r.Message == message {
			return r
		}
	}
	panic("the record channel closed")
}

// The engine's records (opening and recovery, flushes, compactions, failures) reach
// Options.Logger as structured slog records: a message, a "target" naming the engine module,
// and fields such as "dir", "tables", "bytes" and "elapsed_ms". A program usually passes its
// own logger, say slog.New(slog.NewJSONHandler(os.Stderr, nil)). The records are delivered
// by a goroutine of strata's, possibly after the call that caused them has returned, so this
// example hands them to a channel it can wait on.
func ExampleOptions_logger() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)

	records := make(chan slog.Record, 64)
	db, err := strata.Open(dir, &strata.Options{Logger: slog.New(recordChannel(records))})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Put(ctx, []byte("k"), []byte("v")); err != nil {
		log.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	for _, message := range []string{"opened", "flushed a memtable", "closed"} {
		r := awaitRecord(records, db.Dir(), message)
		fmt.Println(r.Level, r.Message)
	}
	// Output:
	// INFO opened
	// INFO flushed a memtable
	// INFO closed
}

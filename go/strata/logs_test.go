package strata

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// recordingHandler keeps every record it is handed, from the level it enables up.
type recordingHandler struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// find returns the first record with message msg, waiting up to a deadline for the dispatcher.
func (h *recordingHandler) find(t *testing.T, msg string) (slog.Record, bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		for _, r := range h.recs {
			if r.Message == msg {
				h.mu.Unlock()
				return r, true
			}
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			return slog.Record{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func attrs(r slog.Record) map[string]slog.Value {
	m := make(map[string]slog.Value)
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
	return m
}

// The engine's level changes at run time: events first seen while no logger wanted them must
// still reach a logger that arrives later (a cached "never" would silence them for good).
func TestLoggerArrivingLaterStillHearsEveryEvent(t *testing.T) {
	ctx := context.Background()
	quiet := openTest(t, nil)
	mustPut(t, quiet, "k", "v")
	if err := quiet.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	h := &recordingHandler{level: slog.LevelInfo}
	db, err := Open(t.TempDir(), &Options{Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustPut(t, db, "k", "v")
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.find(t, "flushed a memtable"); !ok {
		t.Fatal("a flush record seen first without a logger never reached the logger that came later")
	}
}

func TestEngineLogsReachTheDatabasesLogger(t *testing.T) {
	ctx := context.Background()
	h := &recordingHandler{level: slog.LevelInfo}
	dir := t.TempDir()
	db, err := Open(dir, &Options{Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "v")
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"opened", "flushed a memtable", "closed"} {
		r, ok := h.find(t, msg)
		if !ok {
			t.Fatalf("no %q record reached the logger", msg)
		}
		a := attrs(r)
		if r.Level != slog.LevelInfo || a["dir"].String() != db.Dir() || a["target"].String() == "" {
			t.Errorf("%q: level %v, attrs %v; want info with this database's dir and a target", msg, r.Level, a)
		}
	}
	r, _ := h.find(t, "flushed a memtable")
	if a := attrs(r); a["bytes"].Kind() != slog.KindUint64 || a["bytes"].Uint64() == 0 || a["tables"].Uint64() != 1 {
		t.Errorf("flush record attrs %v; want one table of typed, non-zero bytes", a)
	}
}

func TestLoggersOnlyHearOfTheirOwnDatabase(t *testing.T) {
	ctx := context.Background()
	quiet := &recordingHandler{level: slog.LevelError}
	busy := &recordingHandler{level: slog.LevelInfo}
	a, err := Open(t.TempDir(), &Options{Logger: slog.New(quiet)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(t.TempDir(), &Options{Logger: slog.New(busy)})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, a, "k", "v")
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// b's close record arrives after a's flush record (one queue, in order): once it is in,
	// a's flush has been routed, to a's logger only, which does not take info records.
	if _, ok := busy.find(t, "closed"); !ok {
		t.Fatal("no close record for the second database")
	}
	busy.mu.Lock()
	defer busy.mu.Unlock()
	for _, r := range busy.recs {
		if d := attrs(r)["dir"].String(); d != "" && d != b.Dir() {
			t.Errorf("the second database's logger got %q about %s", r.Message, d)
		}
	}
	quiet.mu.Lock()
	defer quiet.mu.Unlock()
	for _, r := range quiet.recs {
		if r.Level < slog.LevelError {
			t.Errorf("an error-level logger was handed %v %q", r.Level, r.Message)
		}
	}
}

func TestLogRecordDecoding(t *testing.T) {
	// level info, target "t", message "m", two fields: dir="/d", n=u64 7
	good := []byte{3, 1, 0, 0, 0, 't', 1, 0, 0, 0, 'm', 2, 0, 0, 0,
		3, 0, 0, 0, 'd', 'i', 'r', 0, 2, 0, 0, 0, '/', 'd',
		1, 0, 0, 0, 'n', 2, 7, 0, 0, 0, 0, 0, 0, 0}
	rec, err := decodeLogRecord(good)
	if err != nil || rec.level != slog.LevelInfo || rec.message != "m" || rec.dir != "/d" || len(rec.attrs) != 3 {
		t.Fatalf("decode = %+v, %v", rec, err)
	}
	for cut := range len(good) {
		if _, err := decodeLogRecord(good[:cut]); err == nil {
			t.Errorf("a record cut to %d bytes decoded without error", cut)
		}
	}
	if _, err := decodeLogRecord(append(good, 0)); err == nil {
		t.Error("a record with a trailing byte decoded without error")
	}
	huge := append([]byte(nil), good...)
	huge[11] = 0xff // field count
	if _, err := decodeLogRecord(huge); err == nil {
		t.Error("a record claiming too many fields decoded without error")
	}
}

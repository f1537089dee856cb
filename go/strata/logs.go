package strata

// Engine logs. Rust's tracing events (opens, flushes, compactions, failures) reach the
// *slog.Logger in Options.Logger as structured records. They travel like results do: the
// engine queues each record as a completion (strata.h: STRATA_COMPLETION_LOG), the poller
// goroutine copies it out while draining, and one dispatcher goroutine calls the loggers, so a
// slow handler never holds up results and no C->Go callback exists.
//
// The engine asks for nothing below the most verbose level any open database's logger has
// enabled (checked when each database opens and closes), so disabled levels cost one atomic
// load per event in Rust and nothing in Go.

/*
#include "strata.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
)

// LevelTrace is the slog level of the engine's trace events (below slog.LevelDebug).
const LevelTrace = slog.LevelDebug - 4

// logBacklog is how many records may wait for the dispatcher; more are dropped and counted.
const logBacklog = 1024

// logRecord is one engine event, decoded.
type logRecord struct {
	level   slog.Level
	target  string
	message string
	attrs   []slog.Attr
	dir     string // the "dir" field, when the event names a database directory
	loggers []*slog.Logger
}

// logRouter sends records to the loggers of the databases they concern.
type logRouter struct {
	mu      sync.Mutex
	byDir   map[string][]*slog.Logger // loggers of open databases, by directory
	started bool
	records chan logRecord
	dropped atomic.Uint64
}

var logs = &logRouter{byDir: make(map[string][]*slog.Logger), records: make(chan logRecord, logBacklog)}

// engineLevels are the levels of strata.h's STRATA_LOG_*, from the least to the most verbose.
var engineLevels = []struct {
	code  C.uint32_t
	level slog.Level
}{
	{C.STRATA_LOG_ERROR, slog.LevelError},
	{C.STRATA_LOG_WARN, slog.LevelWarn},
	{C.STRATA_LOG_INFO, slog.LevelInfo},
	{C.STRATA_LOG_DEBUG, slog.LevelDebug},
	{C.STRATA_LOG_TRACE, LevelTrace},
}

// register adds the logger of the database in dir (nil: none) and updates the engine's level.
func (r *logRouter) register(dir string, logger *slog.Logger) {
	if logger == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byDir[dir] = append(r.byDir[dir], logger)
	if !r.started {
		r.started = true
		go r.dispatch()
	}
	r.updateLevelLocked()
}

// unregister removes one registration of logger for dir.
func (r *logRouter) unregister(dir string, logger *slog.Logger) {
	if logger == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.byDir[dir]
	for i, l := range list {
		if l == logger {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.byDir, dir)
	} else {
		r.byDir[dir] = list
	}
	r.updateLevelLocked()
}

// updateLevelLocked asks the engine for the most verbose level any registered logger enables.
func (r *logRouter) updateLevelLocked() {
	code := C.uint32_t(C.STRATA_LOG_OFF)
	for _, l := range engineLevels {
		for _, loggers := range r.byDir {
			for _, logger := range loggers {
				if logger.Enabled(context.Background(), l.level) {
					code = l.code
				}
			}
		}
	}
	C.strata_log_level(code)
}

// deliver queues an encoded record from the poller; it never blocks. The loggers are chosen
// here, in completion order: a database's last records (its close) are routed before the
// completion of Close unregisters its logger.
func (r *logRouter) deliver(data []byte) {
	rec, err := decodeLogRecord(data)
	if err != nil {
		rec = logRecord{level: slog.LevelError, target: "strata", message: "undecodable engine log record", attrs: []slog.Attr{slog.String("error", err.Error())}}
	}
	rec.loggers = r.loggersFor(rec.dir)
	if len(rec.loggers) == 0 {
		return
	}
	select {
	case r.records <- rec:
	default:
		r.dropped.Add(1)
	}
}

// dispatch is the goroutine that calls the loggers.
func (r *logRouter) dispatch() {
	for rec := range r.records {
		if n := r.dropped.Swap(0); n > 0 {
			rec.attrs = append(rec.attrs, slog.Uint64("strata_dropped_records", n))
		}
		for _, logger := range rec.loggers {
			logger.LogAttrs(context.Background(), rec.level, rec.message, rec.attrs...)
		}
	}
}

// loggersFor returns the loggers of the database in dir; for a record that names no directory
// (an event of the runtime itself), every registered logger. A record about a database opened
// without a logger, or already closed, reaches no one.
func (r *logRouter) loggersFor(dir string) []*slog.Logger {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir != "" {
		return append([]*slog.Logger(nil), r.byDir[dir]...)
	}
	var all []*slog.Logger
	seen := make(map[*slog.Logger]bool)
	for _, list := range r.byDir {
		for _, l := range list {
			if !seen[l] {
				seen[l] = true
				all = append(all, l)
			}
		}
	}
	return all
}

var errShortLogRecord = errors.New("log record ends early")

// logReader decodes the little-endian layout strata.h documents for STRATA_COMPLETION_LOG.
type logReader struct {
	b   []byte
	err error
}

func (r *logReader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errShortLogRecord
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *logReader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *logReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *logReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *logReader) str() string { return string(r.take(int(r.u32()))) }

func decodeLogRecord(b []byte) (logRecord, error) {
	r := &logReader{b: b}
	var rec logRecord
	code := r.u8()
	rec.level = LevelTrace
	for _, l := range engineLevels {
		if uint8(l.code) == code {
			rec.level = l.level
		}
	}
	rec.target = r.str()
	rec.message = r.str()
	n := r.u32()
	if r.err == nil && int(n) > len(r.b) {
		return rec, errShortLogRecord // each field takes at least a byte: n is damaged
	}
	rec.attrs = make([]slog.Attr, 0, n+1)
	rec.attrs = append(rec.attrs, slog.String("target", rec.target))
	for range n {
		name := r.str()
		var a slog.Attr
		switch kind := r.u8(); kind {
		case C.STRATA_LOG_FIELD_STRING:
			v := r.str()
			a = slog.String(name, v)
			if name == "dir" {
				rec.dir = v
			}
		case C.STRATA_LOG_FIELD_I64:
			a = slog.Int64(name, int64(r.u64()))
		case C.STRATA_LOG_FIELD_U64:
			a = slog.Uint64(name, r.u64())
		case C.STRATA_LOG_FIELD_F64:
			a = slog.Float64(name, math.Float64frombits(r.u64()))
		case C.STRATA_LOG_FIELD_BOOL:
			a = slog.Bool(name, r.u8() != 0)
		default:
			return rec, errors.New("log record has a field of unknown kind")
		}
		rec.attrs = append(rec.attrs, a)
	}
	if r.err == nil && len(r.b) != 0 {
		return rec, errors.New("log record has trailing bytes")
	}
	return rec, r.err
}

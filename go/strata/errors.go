package strata

import (
	"errors"
	"strings"
)

// Errors returned by strata. An error from a strata function or method wraps one of these
// sentinels: test it with errors.Is, and read its message for the context (the operation, a
// limit, the directory or the damaged file). The exceptions: a method whose context ended
// first returns ctx.Err() itself (context.Canceled or context.DeadlineExceeded), and a
// relative directory path that cannot be resolved yields the error of os.Getwd. The engine's
// messages are text: an ErrIO does not carry an *os.PathError or an errno.
var (
	// ErrNotFound is returned by DB.Get and Snapshot.Get when the key does not exist (or was
	// deleted). It is the only error that says nothing is wrong.
	ErrNotFound = errors.New("strata: not found")
	// ErrClosed is returned by every method of a DB after its Close, by a Snapshot's methods
	// after its own Close or its database's, and by an Iterator (Next then returns false,
	// Err returns it) once its database is closed.
	ErrClosed = errors.New("strata: closed")
	// ErrCorruption means stored data failed a checksum or structural check: at Open
	// (recovery), in a read, or in Check. The message names the damaged file and offset.
	// Retrying does not help; see Check and docs/debugging.md.
	ErrCorruption = errors.New("strata: corruption")
	// ErrInvalidArgument means an argument breaks a documented rule: an empty key, a key,
	// value or batch over MaxKeySize, MaxValueSize or MaxBatchSize, a range delete whose
	// start sorts after its end, a negative size in Options, an empty directory path, a
	// Checkpoint into a non-empty directory, a Check of a directory that holds no database.
	// Nothing was changed.
	ErrInvalidArgument = errors.New("strata: invalid argument")
	// ErrIO means an operating-system I/O call failed (the message names the file and the
	// OS error). A write that fails with it was not acknowledged; after a failed fsync the
	// database also turns read-only (ErrPoisoned).
	ErrIO = errors.New("strata: I/O error")
	// ErrLocked is returned by Open and Check when the directory is already open, in this
	// process or another. A directory has one writing handle at a time, or any number of
	// read-only ones (Options.ReadOnly, and Check, which only reads) and no writer.
	ErrLocked = errors.New("strata: database directory is locked")
	// ErrPoisoned is returned by calls that would change the database after an earlier
	// failure (a failed log write or fsync, a failed background flush or compaction, an
	// internal panic) made it refuse them; reads still work. The message says what happened.
	// Close the database and open it again: recovery restores the acknowledged writes.
	ErrPoisoned = errors.New("strata: database refuses writes after an earlier failure")
	// ErrInternal means a bug in strata: a panic in the engine, caught and turned into this
	// error. The process keeps running; the database affected turns read-only (ErrPoisoned).
	ErrInternal = errors.New("strata: internal error")
	// ErrReadOnly is returned by calls that would change a database opened with
	// Options.ReadOnly (writes, Flush, Compact, Checkpoint). Nothing was changed.
	ErrReadOnly = errors.New("strata: database is open read-only")
	// ErrConflict is returned by Tx.Commit (and DB.Update once it stops retrying) when a
	// write committed after the transaction's snapshot changed a key the transaction read.
	// Nothing of the transaction was written; run it again.
	ErrConflict = errors.New("strata: transaction conflict")
	// ErrEngineMismatch is returned by the first Open, Check or Repair of a process when the
	// linked libstrata.a is another build than this Go package was written for (another
	// engine version, or an engine built from another strata.h), and by every later one.
	// Nothing was opened; the message names both builds and how to rebuild.
	ErrEngineMismatch = errors.New("strata: the linked engine is another build than this Go package")
)

// codes maps strata.h's STRATA_ERR_* codes to the sentinels, indexed by code.
var codes = []error{
	1:  ErrNotFound,
	2:  ErrClosed,
	3:  ErrCorruption,
	4:  ErrInvalidArgument,
	5:  ErrIO,
	6:  ErrLocked,
	7:  ErrPoisoned,
	8:  ErrInternal,
	9:  ErrReadOnly,
	10: ErrConflict,
}

// codeError is an error reported by the engine: its message, matching a sentinel.
type codeError struct {
	sentinel error
	msg      string
}

func (e *codeError) Error() string { return e.msg }
func (e *codeError) Unwrap() error { return e.sentinel }

// sentinel returns the sentinel for a strata.h error code.
func sentinel(code int32) error {
	if code > 0 && int(code) < len(codes) {
		return codes[code]
	}
	return ErrInternal
}

// errorFromCode builds the error for a failed completion carrying the engine's message.
func errorFromCode(code int32, msg string) error {
	s := sentinel(code)
	if msg == "" {
		return s
	}
	return &codeError{sentinel: s, msg: msg}
}

// opError reports that op failed with a sentinel, saying "strata:" once.
func opError(op string, sentinel error) error {
	return &codeError{sentinel: sentinel, msg: "strata: " + op + ": " + strings.TrimPrefix(sentinel.Error(), "strata: ")}
}

// submitError builds the error for a C call that refused a request outright.
func submitError(op string, code int32) error {
	return opError(op, sentinel(code))
}

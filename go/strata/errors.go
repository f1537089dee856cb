package strata

import (
	"errors"
	"strings"
)

// Errors returned by strata. Each may be wrapped with context; test with errors.Is.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("strata: not found")
	// ErrClosed: the database, iterator or snapshot was closed.
	ErrClosed = errors.New("strata: closed")
	// ErrCorruption: stored data failed a checksum or structural check; the message names the
	// damaged file and offset.
	ErrCorruption = errors.New("strata: corruption")
	// ErrInvalidArgument: an argument breaks a documented rule (empty or oversized key,
	// oversized value or batch, ...).
	ErrInvalidArgument = errors.New("strata: invalid argument")
	// ErrIO: an operating-system I/O call failed.
	ErrIO = errors.New("strata: I/O error")
	// ErrLocked: the directory is already open, in this process or another.
	ErrLocked = errors.New("strata: database directory is locked")
	// ErrPoisoned: an earlier failure (a failed fsync, an internal panic) made the database
	// refuse writes; reads still work. Close and reopen it.
	ErrPoisoned = errors.New("strata: database refuses writes after an earlier failure")
	// ErrInternal: a bug in strata (a caught panic). The process keeps running.
	ErrInternal = errors.New("strata: internal error")
)

// codes maps strata.h's STRATA_ERR_* codes to the sentinels, indexed by code.
var codes = []error{
	1: ErrNotFound,
	2: ErrClosed,
	3: ErrCorruption,
	4: ErrInvalidArgument,
	5: ErrIO,
	6: ErrLocked,
	7: ErrPoisoned,
	8: ErrInternal,
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

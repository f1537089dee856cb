package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Long commands (bench, check, load, scan) stop cleanly on SIGINT or SIGTERM: the signal
// cancels their context, they stop taking new work, let what is in flight finish, close the
// database (which syncs the write-ahead log, so every write they acknowledged is durable),
// report what they did and exit with 128 plus the signal's number, the status a shell shows
// for a process the signal killed (130 for SIGINT, 143 for SIGTERM). A second signal kills the
// process at once, for a command stuck where it cannot notice the first (a write to a pipe no
// one reads, say). Short commands keep the default action: killing them mid-way is as safe as
// a crash, which strata recovers from.

// stopSignal is the cause of a context cancelled by a signal.
type stopSignal struct{ sig syscall.Signal }

func (s stopSignal) Error() string {
	switch s.sig {
	case syscall.SIGINT:
		return "stopped by SIGINT"
	case syscall.SIGTERM:
		return "stopped by SIGTERM"
	}
	return "stopped by signal " + s.sig.String()
}

// exitStatus is 128 plus the signal's number.
func (s stopSignal) exitStatus() int { return 128 + int(s.sig) }

// catchStopSignals returns a context that the first SIGINT or SIGTERM cancels, with a
// stopSignal as its cause, and a function that stops catching them.
func catchStopSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-caught:
			// Back to the default action: the next signal kills.
			signal.Reset(syscall.SIGINT, syscall.SIGTERM)
			cancel(stopSignal{sig.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(caught)
		close(done)
		cancel(nil)
	}
}

// stopped reports a command that stopped because ctx ended, adding detail (what it did, or did
// not do) to the reason, and returns its exit status: 128 + the signal's number after a
// signal, else exitFailure.
func stopped(ctx context.Context, stderr io.Writer, detail string) int {
	cause := context.Cause(ctx)
	if detail != "" {
		detail = ": " + detail
	}
	fmt.Fprintf(stderr, "Error: %v%s\n", cause, detail)
	var sig stopSignal
	if errors.As(cause, &sig) {
		return sig.exitStatus()
	}
	return exitFailure
}

//go:build windows

package platform

// The engine's runtime waits on a futex (Linux) or __ulock (macOS) and signals Go through an
// eventfd or a pipe; none of it is ported to Windows yet.
var _ = strata_does_not_support_windows_yet

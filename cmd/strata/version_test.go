package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

func TestVersion(t *testing.T) {
	want := "strata " + strata.Version() + "\nengine built with " + strata.BuildInfo() + "\n" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if strata.Version() == "" {
		t.Fatal("strata.Version() is empty")
	}
	if !strings.HasPrefix(strata.BuildInfo(), "rustc 1.") {
		t.Fatalf("strata.BuildInfo() = %q; want it to name the Rust compiler", strata.BuildInfo())
	}
	if got := mustRun(t, "version"); got != want {
		t.Fatalf("version printed %q, want %q", got, want)
	}
}

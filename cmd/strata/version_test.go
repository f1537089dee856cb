package main

import (
	"runtime"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

func TestVersion(t *testing.T) {
	want := "strata " + strata.Version() + "\n" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if strata.Version() == "" {
		t.Fatal("strata.Version() is empty")
	}
	if got := mustRun(t, "version"); got != want {
		t.Fatalf("version printed %q, want %q", got, want)
	}
}

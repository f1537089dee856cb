package main

import (
	"os"
	"os/exec"
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

// STRATA_LOG sends the engine's records to stderr in a process without a Go logger (the CLI's
// case), and without it the CLI stays quiet.
func TestStrataLogWritesEngineRecordsToStderr(t *testing.T) {
	for _, level := range []string{"info", ""} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "put", "--dir", dir, "k", "v")
		cmd.Env = append(os.Environ(), cliEnv+"=1", "STRATA_LOG="+level)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("STRATA_LOG=%q put: %v\n%s", level, err, out)
		}
		logged := strings.Contains(string(out), "opened dir="+dir)
		if logged != (level != "") {
			t.Errorf("STRATA_LOG=%q: output %q; want the open logged only when a level is set", level, out)
		}
	}
}

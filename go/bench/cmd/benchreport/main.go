// Command benchreport writes the generated section of docs/benchmarks.md and its ratio chart
// from the results of cmd/peerbench, rust/bench (--json) and the bridge benchmarks.
// scripts/bench.sh runs it; the section lies between markers and the rest of the document is
// kept. Results of peerbench --busy add a busy-machine table (loaded / quiet) and its targets;
// the chart shows quiet ratios only.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-db/strata/go/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	goResults := flag.String("go", "", "cmd/peerbench's JSON `file` (required)")
	native := flag.String("native", "", "rust/bench --json output `file`")
	bridge := flag.String("bridge", "", "`go test -bench` output of go/bench/bridge")
	doc := flag.String("doc", "", "Markdown `file` whose generated section to replace (required)")
	chart := flag.String("chart", "", "PNG `file` for the ratio chart, next to --doc")
	rustVersion := flag.String("rust-version", "", "`rustc --version` of the native run")
	commit := flag.String("commit", "", "the commit measured")
	command := flag.String("command", "scripts/bench.sh", "the command that made the run")
	flag.Parse()
	if *goResults == "" || *doc == "" {
		return fmt.Errorf("--go and --doc are required")
	}
	in := bench.ReportInput{RustVersion: *rustVersion, Commit: *commit, Command: *command}
	var err error
	if in.Go, err = bench.ReadResults(*goResults); err != nil {
		return err
	}
	if *native != "" {
		if in.Native, err = bench.ReadNativeRows(*native); err != nil {
			return err
		}
	}
	if *bridge != "" {
		if in.Bridge, err = bench.ReadBridgeResults(*bridge); err != nil {
			return err
		}
	}
	if *chart != "" {
		if in.Chart, err = filepath.Rel(filepath.Dir(*doc), *chart); err != nil {
			return err
		}
	}
	report := bench.NewReport(in)
	if *chart != "" {
		if err := report.Chart(*chart); err != nil {
			return err
		}
	}
	return bench.UpdateDocument(*doc, report.Markdown())
}

package bench

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The busy processes StartBusy starts are this test binary re-executed.
func TestMain(m *testing.M) {
	BusyChild()
	os.Exit(m.Run())
}

// liveness bounds how long a test waits for a process to do something it must do; a deadline
// for a hung test, not a measurement.
const liveness = 30 * time.Second

func TestBusyProcessesSpinAndAreReaped(t *testing.T) {
	b, err := StartBusy(2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	pids := b.Pids()
	if len(pids) != 2 {
		t.Fatalf("%d busy processes, want 2", len(pids))
	}
	for _, pid := range pids {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(busyChildArg)) {
			t.Fatalf("busy process %d: command line %q, %v", pid, cmdline, err)
		}
	}
	// Each burns CPU: its utime + stime grows.
	first := make([]time.Duration, len(pids))
	for i, pid := range pids {
		if first[i], err = processCPU(pid); err != nil {
			t.Fatal(err)
		}
	}
	for i, pid := range pids {
		for deadline := time.Now().Add(liveness); ; time.Sleep(20 * time.Millisecond) {
			now, err := processCPU(pid)
			if err != nil {
				t.Fatal(err)
			}
			if now > first[i] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("busy process %d used no CPU in %v", pid, liveness)
			}
		}
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	assertReaped(t, b)
	if err := b.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// assertReaped checks that every busy process of b was waited for and is gone: no zombie.
func assertReaped(t *testing.T, b *Busy) {
	t.Helper()
	for _, c := range b.cmds {
		if c.ProcessState == nil {
			t.Errorf("busy process %d was not waited for", c.Process.Pid)
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(c.Process.Pid)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("busy process %d still exists (%v)", c.Process.Pid, err)
		}
	}
	live.Lock()
	defer live.Unlock()
	if live.sets[b] {
		t.Error("a stopped set is still listed for StopAllBusy")
	}
}

// A busy process ends by itself when its parent's pipe closes (as when the parent dies), and
// Stop reports that one had gone before it was stopped.
func TestBusyProcessEndsWhenItsParentGoes(t *testing.T) {
	b, err := StartBusy(1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	if err := b.stdin.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.exited:
		if err != nil {
			t.Errorf("busy process ended with %v, want exit status 0", err)
		}
		b.exited <- err
	case <-time.After(liveness):
		t.Fatalf("busy process still running %v after its stdin closed", liveness)
	}
	if err := b.Stop(); err == nil || !strings.Contains(err.Error(), "exited before it was stopped") {
		t.Errorf("Stop after a busy process ended: %v", err)
	}
	assertReaped(t, b)
}

func TestStopAllBusy(t *testing.T) {
	t.Cleanup(func() {
		live.Lock()
		live.closed = false
		live.Unlock()
	})
	var sets []*Busy
	for range 2 {
		b, err := StartBusy(1)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Stop()
		sets = append(sets, b)
	}
	StopAllBusy()
	for _, b := range sets {
		assertReaped(t, b)
	}
	if b, err := StartBusy(1); err == nil {
		b.Stop()
		t.Error("StartBusy succeeded after StopAllBusy")
	}
}

// Config.Busy measures every row twice; the loaded half comes back in Row.Loaded and no busy
// process outlives the run.
func TestRunOnABusyMachine(t *testing.T) {
	cfg := DefaultConfig(t.TempDir(), 500)
	cfg.Engines = []Engine{strataEngine, pebbleEngine}
	cfg.Workloads = []string{"readrandom", "scan", "fillsync"}
	cfg.ReadThreads = []int{1, 4}
	cfg.SyncWriters = []int{2}
	cfg.SyncOps = 40
	cfg.Busy = 1
	var table bytes.Buffer
	cfg.Progress = &table
	rows, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 {
		t.Errorf("%d rows, want 8", len(rows))
	}
	for _, row := range rows {
		l := row.Loaded
		if l == nil {
			t.Errorf("%s %s: no loaded measurement", row.Engine, row.Label())
			continue
		}
		if l.OpsPerSec <= 0 || l.P99Micros < l.P50Micros || l.BusyCores < 0 || l.Ratio != l.OpsPerSec/row.OpsPerSec {
			t.Errorf("%s %s: implausible loaded numbers %+v (quiet %.0f ops/s)", row.Engine, row.Label(), *l, row.OpsPerSec)
		}
	}
	if got := strings.Count(table.String(), "loaded/quiet"); got != len(rows) {
		t.Errorf("the progress table has %d loaded columns for %d rows:\n%s", got, len(rows), &table)
	}
	live.Lock()
	defer live.Unlock()
	if len(live.sets) != 0 {
		t.Errorf("%d busy process sets still running after Run", len(live.sets))
	}
}

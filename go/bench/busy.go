package bench

// Busy processes load the machine while a row is measured again (Config.Busy), standing in
// for the other processes of a loaded server: each is this program re-executed with
// busyChildArg, spinning in a loop of pure arithmetic at normal priority.
//
// None may outlive the harness. Stop kills and reaps them after each row and on every error
// path; StopAllBusy does it from a signal handler. If the harness dies first, each child ends
// by itself twice over: the kernel sends it SIGKILL (Pdeathsig), and the pipe on its stdin,
// whose only write end the parent holds, reaches EOF. Pdeathsig fires when the thread that
// forked the child exits, not the process, so the children are forked from a goroutine locked
// to its thread until they are reaped: a Go thread otherwise exits when a goroutine locked to
// it returns, and a strata SDK goroutine could be that one.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// busyChildArg is the only argument of a busy process. It is an argument rather than an
// environment variable so that a program that forgot to call BusyChild fails on an unknown
// flag instead of running the whole benchmark again.
const busyChildArg = "-strata-bench-busy-child"

// busyReady is what a busy process writes to its stdout once it is about to spin.
const busyReady = 'R'

// busyStartTimeout bounds how long StartBusy waits for its processes to be ready.
const busyStartTimeout = 30 * time.Second

// BusyChild makes this process a busy process if it was started as one: it then spins until
// its parent ends or stops it, and never returns. Otherwise it returns at once. Every program
// that calls StartBusy (cmd/peerbench, this package's tests) calls it first thing in main.
func BusyChild() {
	if len(os.Args) != 2 || os.Args[1] != busyChildArg {
		return
	}
	go func() {
		// Returns at EOF: the parent closed the pipe or is gone.
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	if _, err := os.Stdout.Write([]byte{busyReady}); err != nil {
		os.Exit(1)
	}
	spin()
}

// spin burns one core: arithmetic only, no memory allocation, no system call.
func spin() {
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
	}
}

// Busy is a set of running busy processes.
type Busy struct {
	cmds []*exec.Cmd
	// stdin is the write end of the pipe every child reads; closing it ends them all.
	stdin   *os.File
	started time.Time
	// exited receives each child's Wait result, in no particular order.
	exited chan error
	// release lets the goroutine that forked the children (locked to its thread) return.
	release chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// live is every Busy not yet stopped, for StopAllBusy.
var live struct {
	sync.Mutex
	sets   map[*Busy]bool
	closed bool
}

// StartBusy starts n busy processes at normal priority and returns once each is running.
func StartBusy(n int) (*Busy, error) {
	if n < 1 {
		return nil, fmt.Errorf("busy process count must be at least 1, not %d", n)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, errors.Join(err, stdinR.Close(), stdinW.Close())
	}
	defer readyR.Close()
	b := &Busy{stdin: stdinW, exited: make(chan error, n), release: make(chan struct{})}

	live.Lock()
	if live.closed {
		live.Unlock()
		return nil, errors.Join(errors.New("busy processes are being stopped for exit"),
			stdinR.Close(), stdinW.Close(), readyW.Close())
	}
	started := make(chan error)
	go b.fork(exe, n, stdinR, readyW, started)
	err = <-started
	// The children hold their own copies; only the parent's write end of stdin stays open.
	err = errors.Join(err, stdinR.Close(), readyW.Close())
	if live.sets == nil {
		live.sets = map[*Busy]bool{}
	}
	live.sets[b] = true
	live.Unlock()
	if err != nil {
		return nil, errors.Join(err, b.Stop())
	}

	if err := b.awaitReady(readyR, n); err != nil {
		return nil, errors.Join(err, b.Stop())
	}
	b.started = time.Now()
	return b, nil
}

// fork starts the children from a goroutine locked to its thread (see the top of this file)
// and keeps the thread until Stop has reaped them.
func (b *Busy) fork(exe string, n int, stdin, ready *os.File, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var err error
	for range n {
		cmd := exec.Command(exe, busyChildArg)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, ready, os.Stderr
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err = cmd.Start(); err != nil {
			err = fmt.Errorf("start busy process: %w", err)
			break
		}
		b.cmds = append(b.cmds, cmd)
		go func() { b.exited <- cmd.Wait() }()
	}
	started <- err
	<-b.release
}

// awaitReady reads the ready byte of each of n children.
func (b *Busy) awaitReady(ready *os.File, n int) error {
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, n)
		_, err := io.ReadFull(ready, buf)
		for _, c := range buf {
			if err == nil && c != busyReady {
				err = fmt.Errorf("busy process wrote %q instead of its ready byte", c)
			}
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			return fmt.Errorf("waiting for %d busy processes to start: %w", n, err)
		}
		return nil
	case <-time.After(busyStartTimeout):
		// Stop closes nothing this goroutine reads; it ends when the children die and the
		// pipe reaches EOF.
		return fmt.Errorf("busy processes not running after %v", busyStartTimeout)
	}
}

// Pids are the busy processes' process IDs.
func (b *Busy) Pids() []int {
	pids := make([]int, len(b.cmds))
	for i, c := range b.cmds {
		pids[i] = c.Process.Pid
	}
	return pids
}

// CPU is the CPU time (user and system) the busy processes have used so far, from
// /proc/PID/stat; call it before Stop.
func (b *Busy) CPU() (time.Duration, error) {
	var total time.Duration
	for _, pid := range b.Pids() {
		t, err := processCPU(pid)
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

// Cores is the average number of cores the busy processes have used since they started.
func (b *Busy) Cores() (float64, error) {
	cpu, err := b.CPU()
	wall := time.Since(b.started)
	if err != nil || wall <= 0 {
		return 0, err
	}
	return cpu.Seconds() / wall.Seconds(), nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture
// Go supports.
const clockTicks = 100

// processCPU reads utime and stime (fields 14 and 15) of /proc/pid/stat.
func processCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces; count from after it.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// Stop kills the busy processes and reaps every one. It fails if any had already exited (the
// load it measured under was not the load asked for). Safe to call more than once and from
// several goroutines; each call returns the first's result once the processes are gone.
func (b *Busy) Stop() error {
	b.stopOnce.Do(func() {
		var errs []error
		select {
		case err := <-b.exited:
			errs = append(errs, fmt.Errorf("a busy process exited before it was stopped: %v", err))
			b.exited <- nil // counted below like the others
		default:
		}
		for _, c := range b.cmds {
			// An error here means the process is already gone; its Wait result says how.
			_ = c.Process.Kill()
		}
		errs = append(errs, b.stdin.Close())
		for range b.cmds {
			<-b.exited
		}
		close(b.release)
		live.Lock()
		delete(live.sets, b)
		live.Unlock()
		b.stopErr = errors.Join(errs...)
	})
	return b.stopErr
}

// StopAllBusy stops every busy process still running and makes later StartBusy calls fail:
// for a signal handler, just before the program exits.
func StopAllBusy() {
	live.Lock()
	live.closed = true
	sets := make([]*Busy, 0, len(live.sets))
	for b := range live.sets {
		sets = append(sets, b)
	}
	live.Unlock()
	for _, b := range sets {
		_ = b.Stop()
	}
}

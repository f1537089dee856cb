package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file runs replicated-kv as child processes on loopback: build the binary once, start
// three nodes, find the leader, kill -9 and restart nodes. Every child is killed when the test
// ends, whatever its outcome.

// buildBinary builds this program into a temporary directory. GOFLAGS (from
// scripts/cgo-env.sh) carries the build tags, as for the test itself.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "replicated-kv")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is one node: its flags and directory survive restarts; cmd is the running child,
// nil while it is down.
type process struct {
	peer
	dir    string
	args   []string
	log    string // stdout and stderr of every run, appended
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	paused bool          // stopped by SIGSTOP
}

type cluster struct {
	t     *testing.T
	bin   string
	nodes []*process
	// probe talks to one node, without following redirects: it finds the leader.
	probe *http.Client
}

// newCluster starts three nodes on free loopback ports; the first bootstraps.
func newCluster(t *testing.T, bin string, extraFlags ...string) *cluster {
	c := &cluster{t: t, bin: bin, probe: &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	addrs := freeAddrs(t, 6)
	dir := t.TempDir()
	for i := range 3 {
		c.nodes = append(c.nodes, &process{
			peer: peer{id: fmt.Sprintf("n%d", i+1), raftAddr: addrs[2*i], httpAddr: addrs[2*i+1]},
			dir:  filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			log:  filepath.Join(dir, fmt.Sprintf("n%d.log", i+1)),
		})
	}
	for i, n := range c.nodes {
		n.args = append([]string{"-id", n.id, "-raft", n.raftAddr, "-http", n.httpAddr, "-dir", n.dir}, extraFlags...)
		if i == 0 {
			n.args = append(n.args, "-bootstrap")
		}
		for _, p := range c.nodes {
			if p != n {
				n.args = append(n.args, "-peer", p.id+","+p.raftAddr+","+p.httpAddr)
			}
		}
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.kill(n)
		}
		if t.Failed() {
			for _, n := range c.nodes {
				out, _ := os.ReadFile(n.log)
				t.Logf("%s's output:\n%s", n.id, tail(string(out), 40))
			}
		}
	})
	for _, n := range c.nodes {
		c.start(n)
	}
	return c
}

// freeAddrs returns n loopback addresses whose ports were free a moment ago. They are held
// open together so that no two are the same.
func freeAddrs(t *testing.T, n int) []string {
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

func (c *cluster) start(n *process) {
	c.t.Helper()
	out, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer out.Close() // the child has its own descriptor
	fmt.Fprintf(out, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	n.cmd = exec.Command(c.bin, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = out, out
	if err := n.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", n.id, err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(n.cmd, n.done)
}

// kill sends SIGKILL to n, as a crash would stop it, and waits for it to exit.
func (c *cluster) kill(n *process) {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Kill()
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		c.t.Errorf("%s (pid %d) still running 10 s after SIGKILL", n.id, n.cmd.Process.Pid)
	}
	n.cmd = nil
}

// pause stops n with SIGSTOP: it keeps its sockets but answers nothing, as a node in a
// long garbage-collection pause or a partition would; the kernel queues what clients send.
func (c *cluster) pause(n *process) {
	if err := n.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		c.t.Fatalf("pause %s: %v", n.id, err)
	}
	n.paused = true
}

// resume continues n after pause. It then runs the requests queued meanwhile, possibly
// before it learns that another node leads.
func (c *cluster) resume(n *process) {
	if err := n.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		c.t.Fatalf("resume %s: %v", n.id, err)
	}
	n.paused = false
}

// leader polls until one running node serves a read itself (a follower redirects) and
// returns it.
func (c *cluster) leader() *process {
	c.t.Helper()
	var leader *process
	waitFor(c.t, 30*time.Second, func() bool {
		for _, n := range c.nodes {
			if n.cmd != nil && !n.paused && c.serves(n) {
				leader = n
				return true
			}
		}
		return false
	}, "a leader")
	return leader
}

func (c *cluster) serves(n *process) bool {
	resp, err := c.probe.Get("http://" + n.httpAddr + "/kv/leader-probe")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound
}

// follower returns a running node other than the leader, avoiding those in not if it can.
func (c *cluster) follower(not ...*process) *process {
	leader := c.leader()
	var found *process
	for _, n := range c.nodes {
		if n != leader && n.cmd != nil && !n.paused && (found == nil || slices.Contains(not, found)) {
			found = n
		}
	}
	if found == nil {
		c.t.Fatal("no follower running")
	}
	return found
}

// rejoined polls until the restarted node n knows a leader: it redirects to it, or is it.
func (c *cluster) rejoined(n *process) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, func() bool {
		resp, err := c.probe.Get("http://" + n.httpAddr + "/kv/leader-probe")
		if err != nil {
			return false
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusTemporaryRedirect, http.StatusOK, http.StatusNotFound:
			return true
		}
		return false
	}, n.id+" to rejoin")
}

// exited reports a child that exited on its own (a crash): the test kills nodes only through
// kill, which forgets them.
func (c *cluster) exited() error {
	for _, n := range c.nodes {
		if n.cmd == nil {
			continue
		}
		select {
		case <-n.done:
			return errors.New(n.id + " exited on its own: " + n.cmd.ProcessState.String())
		default:
		}
	}
	return nil
}

// waitFor polls cond every 10 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// A three-node raft cluster in this process, each node's log and stable state in its own
// Store. It elects a leader and applies STRATA_RAFT_COMMANDS commands (default 10,000); one
// follower is shut down halfway, its Store closed and reopened, and the node restarted with
// an empty state machine. It must catch up: every node's state machine ends having applied
// the same commands in the same order.
func TestRaftClusterOnStrata(t *testing.T) {
	commands := 10_000
	if v := os.Getenv("STRATA_RAFT_COMMANDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			t.Fatalf("STRATA_RAFT_COMMANDS=%q: want a number of commands, at least 2", v)
		}
		commands = n
	}
	c := newCluster(t, commands, 8)
	c.bootstrap()
	c.waitLeader()

	c.apply(0, commands/2)

	f := c.follower()
	lastIndex, lastEntry, term := c.stop(f)
	// While the follower is down, the other two (a majority) keep committing.
	c.apply(commands/2, commands)

	// The reopened store holds what the node had written before it stopped.
	c.openStore(f)
	wantBounds := func() {
		got, err := f.store.LastIndex()
		if err != nil || got != lastIndex {
			t.Fatalf("%s: LastIndex after reopen = %d, %v; want %d", f.id, got, err, lastIndex)
		}
	}
	wantBounds()
	var entry raft.Log
	if err := f.store.GetLog(lastIndex, &entry); err != nil || !sameLog(&entry, &lastEntry) {
		t.Fatalf("%s: entry %d after reopen = %+v, %v; want %+v", f.id, lastIndex, entry, err, lastEntry)
	}
	if got, err := f.store.GetUint64([]byte("CurrentTerm")); err != nil || got != term {
		t.Fatalf("%s: CurrentTerm after reopen = %d, %v; want %d", f.id, got, err, term)
	}
	c.start(f)

	leader := c.waitLeader()
	want := c.waitApplied(leader, c.nodes...)
	if want.distinct != commands {
		t.Fatalf("leader %s applied %d distinct commands, want %d", leader.id, want.distinct, commands)
	}

	// Snapshots let raft compact the log through DeleteRange: the leader's log no longer
	// starts at 1.
	if err := leader.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatalf("snapshot on %s: %v", leader.id, err)
	}
	if first, err := leader.store.FirstIndex(); err != nil || first <= 1 {
		t.Fatalf("%s: FirstIndex after a snapshot = %d, %v; want the log compacted past 1", leader.id, first, err)
	}
}

// clusterLimits are the limits TestRaftFollowerCatchesUpAcrossBatches runs under: a
// 12 KiB command is stored in two parts, and a batch holds five.
var clusterLimits = storeLimits{batch: 64 << 10, value: 8 << 10, entry: 48 << 10}

// A follower that falls behind by more than a batch holds catches up. It is shut down while
// the others commit 1 MiB of 12 KiB commands (a batch holds 64 KiB under clusterLimits), then
// restarted: raft sends it AppendEntries of up to 64 entries (768 KiB) at a time, each of
// which its Store writes in several batches. Before entries were written in batches, each
// such StoreLogs was refused and raft sent the same entries again, forever. The leader's own
// appends exceed a batch too: BatchApplyCh hands it up to 64 commands at once.
func TestRaftFollowerCatchesUpAcrossBatches(t *testing.T) {
	lowerLimits(t, clusterLimits)
	const commands, commandSize = 160, 12 << 10
	if behind := commands / 2 * commandSize; behind <= 4*limits.batch {
		t.Fatalf("the follower misses %d bytes of commands: too few for several batches of %d", behind, limits.batch)
	}
	c := newCluster(t, commands, commandSize)
	c.bootstrap()
	c.waitLeader()
	c.apply(0, commands/2)

	f := c.follower()
	c.stop(f)
	c.apply(commands/2, commands)
	c.openStore(f)
	c.start(f)

	leader := c.waitLeader()
	want := c.waitApplied(leader, c.nodes...)
	if want.distinct != commands {
		t.Fatalf("leader %s applied %d distinct commands, want %d", leader.id, want.distinct, commands)
	}
	if largest := f.largestAppend.Load(); largest <= int64(limits.batch) {
		t.Fatalf("%s caught up through StoreLogs calls of at most %d bytes; the test means calls larger than a batch (%d)",
			f.id, largest, limits.batch)
	}
}

// node is one raft server of the test cluster, with everything it keeps across a restart
// (its directories) and everything it rebuilds.
type node struct {
	id       raft.ServerID
	storeDir string
	snaps    raft.SnapshotStore

	store *Store
	trans *raft.InmemTransport
	fsm   *commandFSM
	raft  *raft.Raft
	// largestAppend is the most bytes of data and extensions raft has stored in one
	// StoreLogs call since the node last started.
	largestAppend atomic.Int64
}

// appendRecorder is a node's Store as raft sees it: it records the largest StoreLogs call.
type appendRecorder struct {
	*Store
	largest *atomic.Int64
}

func (r appendRecorder) StoreLogs(logs []*raft.Log) error {
	var n int64
	for _, l := range logs {
		n += int64(len(l.Data) + len(l.Extensions))
	}
	for old := r.largest.Load(); n > old && !r.largest.CompareAndSwap(old, n); old = r.largest.Load() {
	}
	return r.Store.StoreLogs(logs)
}

type cluster struct {
	t           *testing.T
	commands    int // commands the test applies in all
	commandSize int // bytes of each command: its id, then bytes derived from it
	nodes       []*node
	logs        *lockedBuffer
}

func newCluster(t *testing.T, commands, commandSize int) *cluster {
	c := &cluster{t: t, commands: commands, commandSize: max(commandSize, 8), logs: &lockedBuffer{}}
	// The nodes' directories are made first, so that their removal (a cleanup of its own,
	// run last in, first out) comes after the stores are closed: strata refuses to close a
	// database whose directory was deleted under it as if nothing happened.
	dirs := make([][2]string, 3)
	for i := range dirs {
		dirs[i] = [2]string{t.TempDir(), t.TempDir()}
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.shutdown(n)
		}
		if t.Failed() {
			t.Logf("raft warnings and errors (last 32 KiB):\n%s", c.logs.tail(32<<10))
		}
	})
	for i, dir := range dirs {
		n := &node{id: raft.ServerID(fmt.Sprintf("node%d", i)), storeDir: filepath.Join(dir[0], "raft")}
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dir[1], 2, c.logger(n.id))
		if err != nil {
			t.Fatal(err)
		}
		n.snaps = snaps
		c.nodes = append(c.nodes, n)
		c.openStore(n)
		c.start(n)
	}
	return c
}

func (c *cluster) logger(id raft.ServerID) hclog.Logger { return clusterLogger(id, c.logs) }

// clusterLogger is a node's raft logger: warnings and errors, to out.
func clusterLogger(id raft.ServerID, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: string(id), Level: hclog.Warn, Output: out})
}

func (c *cluster) openStore(n *node) {
	s, err := Open(n.storeDir, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	n.store = s
}

// start runs raft on n's store with a new, empty state machine and connects it to the other
// running nodes.
func (c *cluster) start(n *node) {
	conf := clusterConfig(n.id, c.logger(n.id))
	// Snapshot every eighth of the run and keep five eighths of it as trailing logs: the
	// leader compacts its log (DeleteRange) yet still holds every entry the stopped follower
	// misses, so that follower catches up from the log.
	conf.SnapshotInterval = 100 * time.Millisecond
	conf.SnapshotThreshold = uint64(max(c.commands/8, 4))
	conf.TrailingLogs = uint64(c.commands * 5 / 8)

	_, n.trans = raft.NewInmemTransport(raft.ServerAddress(n.id))
	n.fsm = newCommandFSM()
	n.largestAppend.Store(0)
	r, err := raft.NewRaft(conf, n.fsm, appendRecorder{n.store, &n.largestAppend}, n.store, n.snaps, n.trans)
	if err != nil {
		c.t.Fatalf("start %s: %v", n.id, err)
	}
	n.raft = r
	for _, peer := range c.nodes {
		if peer != n && peer.raft != nil {
			peer.trans.Connect(n.trans.LocalAddr(), n.trans)
			n.trans.Connect(peer.trans.LocalAddr(), peer.trans)
		}
	}
}

// clusterConfig is raft's default configuration for a node of a cluster in this process,
// with the timeouts shortened. The cluster tests and the cluster benchmark share it.
func clusterConfig(id raft.ServerID, logger hclog.Logger) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = id
	conf.Logger = logger
	// Short timeouts keep elections quick, but not so short that a busy two-core machine
	// makes leadership flap.
	conf.HeartbeatTimeout = 300 * time.Millisecond
	conf.ElectionTimeout = 300 * time.Millisecond
	conf.LeaderLeaseTimeout = 150 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	// Buffer Apply calls so the leader appends them in batches (up to MaxAppendEntries per
	// StoreLogs); unbuffered, each pipelined command would cost a sync of its own.
	conf.BatchApplyCh = true
	return conf
}

func (c *cluster) bootstrap() {
	var servers []raft.Server
	for _, n := range c.nodes {
		servers = append(servers, raft.Server{ID: n.id, Address: n.trans.LocalAddr()})
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		c.t.Fatal(err)
	}
}

// shutdown stops n's raft, if it runs, and closes its store, if it is open.
func (c *cluster) shutdown(n *node) {
	c.stopRaft(n)
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			c.t.Errorf("close the store of %s: %v", n.id, err)
		}
		n.store = nil
	}
}

// stopRaft shuts down n's raft and cuts it off from the others.
func (c *cluster) stopRaft(n *node) {
	if n.raft == nil {
		return
	}
	if err := n.raft.Shutdown().Error(); err != nil {
		c.t.Errorf("shutdown %s: %v", n.id, err)
	}
	n.raft = nil
	for _, peer := range c.nodes {
		if peer != n && peer.raft != nil {
			peer.trans.Disconnect(n.trans.LocalAddr())
		}
	}
	n.trans.Close()
}

// stop shuts n down and returns its last log index, that entry, and its current term, as
// its store held them just before closing.
func (c *cluster) stop(n *node) (uint64, raft.Log, uint64) {
	c.stopRaft(n)
	last, err := n.store.LastIndex()
	if err != nil || last == 0 {
		c.t.Fatalf("%s: LastIndex = %d, %v; want entries", n.id, last, err)
	}
	var entry raft.Log
	if err := n.store.GetLog(last, &entry); err != nil {
		c.t.Fatal(err)
	}
	term, err := n.store.GetUint64([]byte("CurrentTerm"))
	if err != nil || term == 0 {
		c.t.Fatalf("%s: CurrentTerm = %d, %v; want a term", n.id, term, err)
	}
	c.shutdown(n)
	return last, entry, term
}

func (c *cluster) waitLeader() *node {
	var leader *node
	waitFor(c.t, 30*time.Second, func() bool {
		for _, n := range c.nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				leader = n
				return true
			}
		}
		return false
	}, func() string { return "a leader" })
	return leader
}

// follower returns a follower that has applied everything the leader has. Commands commit
// once a majority stores them, so a follower may lag; one stopped while it still lacked
// early entries would make the leader catch it up from a snapshot, not from its log.
func (c *cluster) follower() *node {
	leader := c.waitLeader()
	for _, n := range c.nodes {
		if n != leader && n.raft != nil {
			c.waitApplied(leader, n)
			return n
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// waitApplied waits until every one of nodes has applied everything the leader has once a
// barrier through it completes, and returns that state.
func (c *cluster) waitApplied(leader *node, nodes ...*node) fsmState {
	if err := leader.raft.Barrier(time.Minute).Error(); err != nil {
		c.t.Fatalf("barrier on %s: %v", leader.id, err)
	}
	want := leader.fsm.state()
	for _, n := range nodes {
		waitFor(c.t, 2*time.Minute, func() bool { return n.fsm.state() == want },
			func() string { return fmt.Sprintf("%s's state machine: %+v, leader's: %+v", n.id, n.fsm.state(), want) })
	}
	return want
}

// apply commits the commands with ids [from, to) through the leader, pipelined: all are
// submitted before any is waited for, so raft batches them. Commands that fail (leadership
// moved) are submitted again to the new leader; a command may so be applied twice, which
// the state machine tolerates.
func (c *cluster) apply(from, to int) {
	var pending []uint64
	for id := from; id < to; id++ {
		pending = append(pending, uint64(id))
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 10 {
			c.t.Fatalf("%d commands still failing after 10 attempts", len(pending))
		}
		leader := c.waitLeader()
		futures := make([]raft.ApplyFuture, len(pending))
		for i, id := range pending {
			cmd := c.command(id)
			if err := CheckCommand(cmd); err != nil { // as a leader should, before Apply
				c.t.Fatal(err)
			}
			futures[i] = leader.raft.Apply(cmd, time.Minute)
		}
		var failed []uint64
		for i, f := range futures {
			if err := f.Error(); err != nil {
				failed = append(failed, pending[i])
			}
		}
		pending = failed
	}
}

// command returns the command with this id: the id as 8 big-endian bytes, then bytes that
// depend on it up to commandSize.
func (c *cluster) command(id uint64) []byte {
	cmd := binary.BigEndian.AppendUint64(make([]byte, 0, c.commandSize), id)
	for i := len(cmd); i < c.commandSize; i++ {
		cmd = append(cmd, byte(id)+byte(i))
	}
	return cmd
}

// waitFor polls cond until it holds, failing the test with what() if it does not within
// timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fsmState is what a commandFSM has applied: equal states mean equal command sequences.
type fsmState struct {
	applied   int    // commands applied, repeats included
	distinct  int    // distinct command ids applied
	lastIndex uint64 // log index of the last command applied
	digest    uint64 // FNV-1a chained over the index and data of every command applied
}

// commandFSM is a raft state machine that records which commands it applied, and in what
// order (through a digest).
type commandFSM struct {
	mu      sync.Mutex
	current fsmState
	ids     map[uint64]bool
}

func newCommandFSM() *commandFSM { return &commandFSM{ids: map[uint64]bool{}} }

func (f *commandFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := fnv.New64a()
	h.Write(binary.BigEndian.AppendUint64(nil, f.current.digest))
	h.Write(binary.BigEndian.AppendUint64(nil, l.Index))
	h.Write(l.Data)
	f.current.digest = h.Sum64()
	f.current.applied++
	f.current.lastIndex = l.Index
	f.ids[binary.BigEndian.Uint64(l.Data)] = true
	f.current.distinct = len(f.ids)
	return nil
}

func (f *commandFSM) state() fsmState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current
}

// Snapshot encodes the state as applied, digest, last index, then every id, each 8 bytes.
func (f *commandFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b []byte
	for _, v := range []uint64{uint64(f.current.applied), f.current.digest, f.current.lastIndex} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	for id := range f.ids {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	return fsmSnapshot(b), nil
}

func (f *commandFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if len(b) < 24 || len(b)%8 != 0 {
		return fmt.Errorf("snapshot of %d bytes", len(b))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = fsmState{
		applied:   int(binary.BigEndian.Uint64(b)),
		digest:    binary.BigEndian.Uint64(b[8:]),
		lastIndex: binary.BigEndian.Uint64(b[16:]),
	}
	f.ids = map[uint64]bool{}
	for b = b[24:]; len(b) > 0; b = b[8:] {
		f.ids[binary.BigEndian.Uint64(b)] = true
	}
	f.current.distinct = len(f.ids)
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}

// lockedBuffer collects the log output of every node.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf.Bytes()
	return string(out[max(0, len(out)-n):])
}

package raftfsm_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/raftstore"
	"github.com/strata-db/strata/go/raftstore/raftfsm"
	"github.com/strata-db/strata/go/strata"
)

// A three-node cluster whose state machines are raftfsm FSMs. A follower is stopped after a
// snapshot; while it is down the others apply more commands, snapshot and truncate their logs,
// so the restarted follower can only catch up by installing a snapshot (FSM.Restore). Its
// database must then equal the leader's, and a second restart, which skips raft's restore on
// start (CoversSnapshots), must leave it so.
func TestClusterFollowerInstallsSnapshot(t *testing.T) {
	c := newCluster(t)
	c.waitLeader()
	c.apply(0, 100)
	for _, n := range c.nodes {
		c.snapshot(n)
	}

	f := c.follower()
	c.stop(f)
	stoppedAt := f.appliedBeforeStop
	c.apply(100, 300)
	for _, n := range c.nodes {
		if n.raft != nil {
			c.snapshot(n) // TrailingLogs is 4: the entries f lacks are gone from every log
		}
	}

	c.start(f)
	leader := c.waitLeader()
	if err := leader.raft.Barrier(time.Minute).Error(); err != nil {
		t.Fatal(err)
	}
	c.waitSame(f, leader)
	if f.restores.Load() == 0 {
		t.Fatalf("%s caught up from index %d without installing a snapshot", f.id, stoppedAt)
	}

	c.stop(f)
	c.start(f)
	if !f.skippedRestoreOnStart {
		t.Fatalf("%s restarted with a restore although its database covers its snapshots", f.id)
	}
	c.apply(300, 310)
	leader = c.waitLeader()
	if err := leader.raft.Barrier(time.Minute).Error(); err != nil {
		t.Fatal(err)
	}
	c.waitSame(f, leader)
}

// node is one server: its directories survive a restart; the rest is rebuilt.
type node struct {
	id                    raft.ServerID
	storeDir, fsmDir      string
	snaps                 raft.SnapshotStore
	store                 *raftstore.Store
	fsm                   *raftfsm.FSM
	trans                 *raft.InmemTransport
	raft                  *raft.Raft
	restores              atomic.Int64 // FSM.Restore calls since the node last started
	appliedBeforeStop     uint64
	skippedRestoreOnStart bool
}

// countingFSM counts a node's restores.
type countingFSM struct {
	*raftfsm.FSM
	n *node
}

func (c countingFSM) Restore(rc io.ReadCloser) error {
	c.n.restores.Add(1)
	return c.FSM.Restore(rc)
}

type cluster struct {
	t     *testing.T
	nodes []*node
	logs  syncBuffer
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t}
	for i := range 3 {
		dir := t.TempDir()
		snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), 2, c.logger("snapshots"))
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, &node{
			id: raft.ServerID(fmt.Sprintf("node%d", i)), snaps: snaps,
			storeDir: filepath.Join(dir, "raft"), fsmDir: filepath.Join(dir, "fsm"),
		})
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.stop(n)
		}
		if t.Failed() {
			t.Logf("raft log:\n%s", c.logs.String())
		}
	})
	for _, n := range c.nodes {
		c.start(n)
	}
	var servers []raft.Server
	for _, n := range c.nodes {
		servers = append(servers, raft.Server{ID: n.id, Address: n.trans.LocalAddr()})
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: &c.logs})
}

// applyKV applies "key=value" as a put.
func applyKV(l *raft.Log, _ *strata.DB, b *raftfsm.Batch) (any, error) {
	key, value, ok := bytes.Cut(l.Data, []byte("="))
	if !ok {
		return nil, fmt.Errorf("command %q is not key=value", l.Data)
	}
	b.Put(key, value)
	return nil, nil
}

// start opens n's store and FSM and runs raft on them, connected to the running nodes.
func (c *cluster) start(n *node) {
	store, err := raftstore.Open(n.storeDir, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	fsm, err := raftfsm.Open(n.fsmDir, nil, applyKV)
	if err != nil {
		store.Close()
		c.t.Fatal(err)
	}
	n.store, n.fsm = store, fsm
	conf := raft.DefaultConfig()
	conf.LocalID = n.id
	conf.Logger = c.logger(string(n.id))
	conf.HeartbeatTimeout, conf.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
	conf.LeaderLeaseTimeout = 150 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	// Snapshots only when the test asks, keeping few entries behind them.
	conf.SnapshotThreshold, conf.SnapshotInterval = 1<<40, time.Hour
	conf.TrailingLogs = 4
	// The database survives restarts; raft restores a snapshot on start only if it lacks one.
	covers, err := fsm.CoversSnapshots(n.snaps)
	if err != nil {
		c.t.Fatal(err)
	}
	conf.NoSnapshotRestoreOnStart = covers
	n.skippedRestoreOnStart = covers
	n.restores.Store(0)

	_, n.trans = raft.NewInmemTransport(raft.ServerAddress(n.id))
	r, err := raft.NewRaft(conf, countingFSM{fsm, n}, store, store, n.snaps, n.trans)
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

// stop shuts down n's raft, then closes its FSM and store.
func (c *cluster) stop(n *node) {
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
	n.appliedBeforeStop = n.fsm.AppliedIndex()
	if err := n.fsm.Close(); err != nil {
		c.t.Errorf("close the FSM of %s: %v", n.id, err)
	}
	if err := n.store.Close(); err != nil {
		c.t.Errorf("close the store of %s: %v", n.id, err)
	}
}

func (c *cluster) snapshot(n *node) {
	if err := n.raft.Snapshot().Error(); err != nil {
		c.t.Fatalf("snapshot on %s: %v", n.id, err)
	}
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

func (c *cluster) follower() *node {
	leader := c.waitLeader()
	for _, n := range c.nodes {
		if n != leader && n.raft != nil {
			return n
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// apply commits "k<id>=v<id>" for ids [from, to) through the leader, pipelined, submitting
// again those that fail when leadership moves (a put applied twice changes nothing).
func (c *cluster) apply(from, to int) {
	var pending []int
	for id := from; id < to; id++ {
		pending = append(pending, id)
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 10 {
			c.t.Fatalf("%d commands still failing after 10 attempts", len(pending))
		}
		leader := c.waitLeader()
		futures := make([]raft.ApplyFuture, len(pending))
		for i, id := range pending {
			futures[i] = leader.raft.Apply([]byte(fmt.Sprintf("k%04d=v%d", id, id)), time.Minute)
		}
		var failed []int
		for i, f := range futures {
			if err := f.Error(); err != nil {
				failed = append(failed, pending[i])
			} else if resp := f.Response(); resp != nil {
				c.t.Fatalf("command %d: response %v", pending[i], resp)
			}
		}
		pending = failed
	}
}

// waitSame polls until n's database equals the leader's, applied index included.
func (c *cluster) waitSame(n, leader *node) {
	c.t.Helper()
	var got, want string
	waitFor(c.t, 2*time.Minute, func() bool {
		got, want = dump(c.t, n.fsm), dump(c.t, leader.fsm)
		return got == want
	}, func() string {
		return fmt.Sprintf("%s's database (applied %d) to equal leader %s's (applied %d)",
			n.id, n.fsm.AppliedIndex(), leader.id, leader.fsm.AppliedIndex())
	})
}

// dump returns every key and value of f's database, one pair a line.
func dump(t *testing.T, f *raftfsm.FSM) string {
	var out bytes.Buffer
	err := f.View(func(db *strata.DB) error {
		it, err := db.NewIterator(context.Background(), nil)
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Next() {
			fmt.Fprintf(&out, "%q=%q\n", it.Key(), it.Value())
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// waitFor polls cond until it holds, failing the test with what() after timeout.
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

// syncBuffer collects the nodes' log output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

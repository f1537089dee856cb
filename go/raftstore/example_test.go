package raftstore_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/raftstore"
)

// A Store used directly, as raft uses it: a log of entries and a few stable values.
func Example() {
	dir, _ := os.MkdirTemp("", "raftstore-example")
	defer os.RemoveAll(dir)

	store, err := raftstore.Open(dir, nil) // nil: every write is fsynced, as raft requires
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	err = store.StoreLogs([]*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("set x=1")},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("set y=2")},
		{Index: 3, Term: 2, Type: raft.LogCommand, Data: []byte("del x")},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		log.Fatal(err)
	}

	// After a snapshot, raft drops the entries the snapshot covers.
	if err := store.DeleteRange(1, 2); err != nil {
		log.Fatal(err)
	}
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	var entry raft.Log
	if err := store.GetLog(3, &entry); err != nil {
		log.Fatal(err)
	}
	term, _ := store.GetUint64([]byte("CurrentTerm"))
	fmt.Printf("log %d..%d, entry 3: %q in term %d; current term %d\n", first, last, entry.Data, entry.Term, term)
	// Output: log 3..3, entry 3: "del x" in term 2; current term 2
}

// One Store is both the LogStore and the StableStore of a raft node. This one-node cluster
// elects itself and applies commands to a state machine that joins them.
func Example_raft() {
	dir, _ := os.MkdirTemp("", "raftstore-example")
	defer os.RemoveAll(dir)
	store, err := raftstore.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	conf := raft.DefaultConfig()
	conf.LocalID = "node0"
	conf.Logger = hclog.NewNullLogger()
	conf.HeartbeatTimeout, conf.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	addr, transport := raft.NewInmemTransport("node0")
	fsm := &joinFSM{}
	r, err := raft.NewRaft(conf, fsm, store, store, raft.NewInmemSnapshotStore(), transport)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { r.Shutdown().Error() }() // waits for raft to stop before the store closes
	servers := []raft.Server{{ID: conf.LocalID, Address: addr}}
	if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		log.Fatal(err)
	}
	select {
	case <-r.LeaderCh():
	case <-time.After(10 * time.Second):
		log.Fatal("no leader elected")
	}

	for _, cmd := range []string{"a", "b", "c"} {
		if err := r.Apply([]byte(cmd), time.Second).Error(); err != nil {
			log.Fatal(err)
		}
	}
	last, _ := store.LastIndex()
	fmt.Printf("state %q; the log holds entries up to %d (configuration, no-op, 3 commands)\n", fsm.state(), last)
	// Output: state "abc"; the log holds entries up to 5 (configuration, no-op, 3 commands)
}

// A leader checks each command before raft.Apply: raft does not know the log store's limit,
// so a command over MaxEntrySize would otherwise fail in StoreLogs, taking down the commands
// appended with it.
func ExampleCheckCommand() {
	apply := func(r *raft.Raft, cmd []byte) error {
		if err := raftstore.CheckCommand(cmd); err != nil {
			return err // refused here, at the caller, not inside raft
		}
		return r.Apply(cmd, 10*time.Second).Error()
	}
	_ = apply
}

// joinFSM is a raft state machine whose state is its commands, joined.
type joinFSM struct {
	mu  sync.Mutex
	cmd []string
}

func (f *joinFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmd = append(f.cmd, string(l.Data))
	return nil
}

func (f *joinFSM) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.cmd, "")
}

func (f *joinFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, fmt.Errorf("joinFSM does not snapshot")
}

func (f *joinFSM) Restore(rc io.ReadCloser) error {
	return rc.Close()
}

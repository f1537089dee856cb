package raftfsm_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/raftstore"
	"github.com/strata-db/strata/go/raftstore/raftfsm"
	"github.com/strata-db/strata/go/strata"
)

// A one-node raft cluster whose log lives in a raftstore.Store and whose state machine is a
// raftfsm.FSM. Commands "key=value" become puts; reads go to the FSM's database.
func Example() {
	dir, _ := os.MkdirTemp("", "raftfsm-example")
	defer os.RemoveAll(dir)

	store, err := raftstore.Open(filepath.Join(dir, "raft"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fsm, err := raftfsm.Open(filepath.Join(dir, "fsm"), nil, func(l *raft.Log, db *strata.DB, b *raftfsm.Batch) (any, error) {
		key, value, ok := bytes.Cut(l.Data, []byte("="))
		if !ok {
			return nil, fmt.Errorf("command %q is not key=value", l.Data)
		}
		b.Put(key, value)
		return nil, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	defer fsm.Close() // after raft's shutdown, deferred below
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), 2, hclog.NewNullLogger())
	if err != nil {
		log.Fatal(err)
	}

	conf := raft.DefaultConfig()
	conf.LocalID = "node0"
	conf.Logger = hclog.NewNullLogger()
	conf.HeartbeatTimeout, conf.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	// The database survives restarts: raft need not restore a snapshot it already holds.
	if conf.NoSnapshotRestoreOnStart, err = fsm.CoversSnapshots(snaps); err != nil {
		log.Fatal(err)
	}
	addr, transport := raft.NewInmemTransport("node0")
	r, err := raft.NewRaft(conf, fsm, store, store, snaps, transport)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { r.Shutdown().Error() }()
	servers := []raft.Server{{ID: conf.LocalID, Address: addr}}
	if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		log.Fatal(err)
	}
	select {
	case <-r.LeaderCh():
	case <-time.After(10 * time.Second):
		log.Fatal("no leader elected")
	}

	for _, cmd := range []string{"x=1", "y=2", "x=3", "bad"} {
		f := r.Apply([]byte(cmd), time.Second)
		if err := f.Error(); err != nil {
			log.Fatal(err)
		}
		if err, ok := f.Response().(error); ok {
			fmt.Println("refused:", err)
		}
	}
	x, err := fsm.DB().Get(context.Background(), []byte("x"))
	if err != nil {
		log.Fatal(err)
	}
	// Entries 1 and 2 are raft's configuration and no-op; commands start at 3.
	fmt.Printf("x=%s, applied up to entry %d\n", x, fsm.AppliedIndex())
	// Output:
	// refused: command "bad" is not key=value
	// x=3, applied up to entry 6
}
